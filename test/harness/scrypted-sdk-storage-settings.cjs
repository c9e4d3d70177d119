// See scrypted-sdk.cjs: the SDK's storage settings, loaded through the same shim.
require('./scrypted-sdk.cjs');
module.exports = require('@scrypted/sdk/storage-settings');
