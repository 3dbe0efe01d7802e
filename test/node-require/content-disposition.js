module.exports = require('./load')('content-disposition', __filename);
