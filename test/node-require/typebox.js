module.exports = require('./load')('typebox', __filename);
