// The onnx inference worker's program, src/runtimes/onnx-worker.ts and what it imports, bundled
// into one CommonJS script. A worker thread runs it from this text (`eval`), as the plugin has no
// files of its own on disk inside Scrypted: webpack.config.js inlines it into main.nodejs.js, and
// the unbundled sources (tests, CLI, benchmark) build it when a runtime first starts.
const path = require('path');

module.exports = function bundleOnnxWorker() {
  const { buildSync } = require('esbuild');
  const result = buildSync({
    entryPoints: [path.resolve(__dirname, '../src/runtimes/onnx-worker.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'error',
  });
  return result.outputFiles[0].text;
};
