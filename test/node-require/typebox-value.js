module.exports = require('./load')('typebox/value', __filename);
