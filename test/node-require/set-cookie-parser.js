module.exports = require('./load')('set-cookie-parser', __filename);
