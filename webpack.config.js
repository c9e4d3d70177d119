// Bundles the plugin into main.nodejs.js the way @scrypted/sdk's scrypted-webpack does:
// a CommonJS script that Scrypted evaluates with `exports`, `require` and the managers as
// parameters. Native modules (the package's optionalDependencies) are never bundled: Scrypted
// npm-installs them into the plugin's volume and src/native.ts finds them there at run time.
const path = require('path');
const webpack = require('webpack');
const pkg = require('./package.json');
const bundleOnnxWorker = require('./scripts/onnx-worker-bundle.cjs');

const out = path.resolve(__dirname, 'dist');

module.exports = {
  mode: 'production',
  target: 'node',
  entry: { 'main.nodejs.js': path.resolve(__dirname, 'src/main.ts') },
  output: {
    path: out,
    filename: '[name]',
    library: { name: 'exports', type: 'assign-properties' },
    devtoolModuleFilenameTemplate: (info) => path.relative(out, info.absoluteResourcePath),
  },
  devtool: 'source-map',
  resolve: { extensions: ['.ts', '.js'] },
  module: {
    rules: [{ test: /\.ts$/, loader: 'ts-loader', options: { transpileOnly: true, configFile: path.resolve(__dirname, 'tsconfig.json') } }],
  },
  externals: Object.fromEntries(Object.keys(pkg.optionalDependencies).map((name) => [name, `commonjs ${name}`])),
  // Leave __dirname alone: Scrypted evaluates the bundle with no file behind it.
  node: { __dirname: false, __filename: false },
  optimization: { minimize: false },
  performance: { hints: false },
  plugins: [
    // The SDK probes import.meta for ES-module hosts; Scrypted's own build defines it away too.
    // The inference worker's program, run from its text (src/runtimes/worker-source.ts).
    new webpack.DefinePlugin({ 'import.meta': 'undefined', NVR_ONNX_WORKER_SOURCE: JSON.stringify(bundleOnnxWorker()) }),
    new webpack.optimize.LimitChunkCountPlugin({ maxChunks: 1 }),
    new webpack.BannerPlugin({ banner: (data) => `\n//# sourceURL=/plugin/${path.basename(data.filename)}`, raw: true, footer: true }),
  ],
};
