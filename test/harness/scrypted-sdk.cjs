// Loads @scrypted/sdk's CommonJS build as CommonJS, for tests that import plugin sources.
// Its source mentions `import.meta` (for bundlers): a syntax error to Node's CommonJS loader,
// and Node 20.19+ then mistakes the file for ESM. In a real plugin webpack replaces
// `import.meta` (scrypted-webpack's DefinePlugin); this does the same at load time.
const Module = require('module');
const fs = require('fs');
const path = require('path');

const sdkDir = path.resolve(path.dirname(require.resolve('@scrypted/sdk')), '..', '..');
const compileJs = Module._extensions['.js'];
if (!compileJs.scryptedSdkShim) {
  const patched = function (module, filename) {
    if (!filename.startsWith(sdkDir + path.sep)) return compileJs(module, filename);
    const source = fs.readFileSync(filename, 'utf8').replace(/import\.meta/g, 'undefined');
    return module._compile(source, filename);
  };
  patched.scryptedSdkShim = true;
  Module._extensions['.js'] = patched;
}

module.exports = require('@scrypted/sdk');
