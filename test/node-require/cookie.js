module.exports = require('./load')('cookie', __filename);
