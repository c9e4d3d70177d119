/**
 * Loads a built plugin.zip the way a Scrypted server does, in this (child) process, and runs a
 * scenario against it through the test host, printing one JSON result line.
 *
 * Emulated from the server's plugin-remote-worker: the zip is unzipped, the working directory
 * becomes its fs/ folder, optionalDependencies live in
 * $SCRYPTED_PLUGIN_VOLUME/node<major>-<platform>-<arch>/node_modules, and main.nodejs.js is
 * compiled with vm.compileFunction and called with the managers, `require`, `module` and
 * `exports` as parameters (no __filename). The `require` given to the plugin resolves Node
 * built-ins and the volume's node_modules only, so nothing leaks in from this repository.
 */
import AdmZip from 'adm-zip';
import fs from 'fs';
import { builtinModules, createRequire } from 'module';
import path from 'path';
import vm from 'vm';
import { TestHost } from './host';
import { instantiatePlugin } from './load';
import { HostImage, HostMediaObject } from './media';

interface PluginUnderTest {
  getSettings(): Promise<{ key?: string; value?: unknown }[]>;
  putSetting(key: string, value: unknown): Promise<void>;
  getDetectionModel(): Promise<{ name: string; inputSize?: number[] }>;
  detectObjects(media: unknown): Promise<{ inputDimensions?: [number, number]; detections?: { className: string; score: number; boundingBox?: number[] }[] }>;
  release(): Promise<void>;
}

async function main(): Promise<void> {
  const [zipPath, workDir, sharedDir] = process.argv.slice(2);
  const repo = path.resolve(__dirname, '../..');
  const unzipped = path.join(workDir, 'zip', 'unzipped');
  new AdmZip(zipPath).extractAllTo(unzipped, true);

  // What the server's installOptionalDependencies leaves behind: the native modules, npm-installed in the volume.
  const volume = path.join(workDir, 'volume');
  const nodePrefix = path.join(volume, `node${process.versions.node.split('.')[0]}-${process.platform}-${process.arch}`, 'node_modules');
  fs.mkdirSync(nodePrefix, { recursive: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));
  for (const name of Object.keys(pkg.optionalDependencies)) {
    const target = path.join(nodePrefix, name);
    if (!fs.existsSync(target)) fs.symlinkSync(path.join(repo, 'node_modules', name), target, 'dir');
  }
  process.env.SCRYPTED_PLUGIN_VOLUME = volume;
  process.env.NVR_MODELS_DIR = path.join(sharedDir, 'models');
  const fsDir = path.join(unzipped, 'fs');
  fs.mkdirSync(fsDir, { recursive: true });
  process.chdir(fsDir);

  const host = new TestHost();
  const volumeRequire = createRequire(path.join(nodePrefix, 'noop.js'));
  const pluginRequire = (name: string) => {
    if (name === 'realfs') return require('fs');
    if (builtinModules.includes(name.replace(/^node:/, ''))) return require(name);
    return volumeRequire(name);
  };
  const module = { exports: {} as Record<string, unknown> };
  const params: Record<string, unknown> = {
    __filename: undefined,
    ...host.params(),
    WebSocket: undefined,
    pluginRuntimeAPI: undefined,
    require: pluginRequire,
    module,
    exports: module.exports,
  };
  const script = fs.readFileSync(path.join(unzipped, 'main.nodejs.js'), 'utf8');
  const compiled = vm.compileFunction(script, Object.keys(params), { filename: '/plugin/main.nodejs.js' });
  compiled(...Object.values(params));

  const plugin = instantiatePlugin(module.exports.default ?? module.exports) as PluginUnderTest;

  const dog = fs.readFileSync(path.join(sharedDir, 'media', 'dog.jpg'));
  const model = await plugin.getDetectionModel();
  const jpeg = await plugin.detectObjects(new HostMediaObject('image/jpeg', dog));
  const rgb = Buffer.alloc(640 * 480 * 3, 90);
  const raw = await plugin.detectObjects(new HostImage(rgb, 640, 480));
  let badError = '';
  await plugin.detectObjects(new HostMediaObject('image/jpeg', Buffer.from('garbage'))).catch((e: Error) => (badError = e.message));
  await plugin.putSetting('classes', ['dog']);
  const filtered = await plugin.detectObjects(new HostMediaObject('image/jpeg', dog));
  const settings = await plugin.getSettings();
  await plugin.release();
  console.log(JSON.stringify({
    model,
    jpeg,
    raw,
    badError,
    filtered,
    settingKeys: settings.map((s) => s.key),
    status: settings.find((s) => s.key === 'status')?.value,
    zipEntries: fs.readdirSync(unzipped),
  }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
