// npm run build: webpack -> dist/main.nodejs.js(.map), then dist/plugin.zip holding those,
// README.md and fs/ (the repo's fs/ plus the Python pool, shipped at fs/python-runtime/).
import AdmZip from 'adm-zip';
import fs from 'fs';
import { createRequire } from 'module';
import path from 'path';
import { fileURLToPath } from 'url';

const require = createRequire(import.meta.url);
const webpack = require('webpack');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

fs.rmSync(dist, { recursive: true, force: true });
const config = require(path.join(root, 'webpack.config.js'));
const stats = await new Promise((resolve, reject) => webpack(config, (err, result) => (err ? reject(err) : resolve(result))));
if (stats.hasErrors()) {
  console.error(stats.toString({ all: false, errors: true }));
  process.exit(1);
}

const zip = new AdmZip();
zip.addLocalFile(path.join(dist, 'main.nodejs.js'));
zip.addLocalFile(path.join(dist, 'main.nodejs.js.map'));
zip.addLocalFile(path.join(root, 'README.md'));
zip.addLocalFolder(path.join(root, 'fs'), 'fs');
const python = path.join(root, 'python-runtime');
if (fs.existsSync(python)) {
  // Ship the pool's sources and requirements, not its tests or caches.
  const skip = /(^|\/)(tests|__pycache__|\.pytest_cache|\.ruff_cache|tools)(\/|$)/;
  zip.addLocalFolder(python, 'fs/python-runtime', (file) => !skip.test(file.replace(/\\/g, '/')));
}
const zipPath = path.join(dist, 'plugin.zip');
zip.writeZip(zipPath);
const entries = zip.getEntries().filter((e) => !e.isDirectory).length;
console.log(`built ${path.relative(root, zipPath)}: ${entries} files, ${(fs.statSync(zipPath).size / 1024).toFixed(0)} KiB`);
