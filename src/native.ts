import fs from 'fs';
import { createRequire } from 'module';
import path from 'path';

/**
 * Native modules (onnxruntime-node, sharp) are never bundled: Scrypted npm-installs the
 * plugin's optionalDependencies into `$SCRYPTED_PLUGIN_VOLUME/node<major>-<platform>-<arch>[-base]`
 * at load. This finds them there, beside the working directory, or beside the sources.
 */
function searchRoots(): string[] {
  const roots = [process.cwd()];
  const volume = process.env.SCRYPTED_PLUGIN_VOLUME;
  if (volume) {
    const prefix = `node${process.versions.node.split('.')[0]}-${process.platform}-${process.arch}`;
    try {
      for (const entry of fs.readdirSync(volume)) {
        if (entry.startsWith(prefix)) roots.push(path.join(volume, entry));
      }
    } catch {
      // No volume folder yet: nothing installed there.
    }
  }
  if (typeof __dirname === 'string') roots.push(path.resolve(__dirname, '..'));
  return roots;
}

export class NativeModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NativeModuleError';
  }
}

const resolved = new Map<string, string>();

/** Absolute path of a native module's entry point, for this thread or to hand to a worker. */
export function resolveNative(name: string): string {
  const known = resolved.get(name);
  if (known) return known;
  const roots = searchRoots();
  for (const root of roots) {
    try {
      const file = createRequire(path.join(root, 'noop.js')).resolve(name);
      resolved.set(name, file);
      return file;
    } catch {
      // try the next root
    }
  }
  throw new NativeModuleError(
    `native module "${name}" is not installed (looked in ${roots.join(', ')}); ` +
      'Scrypted installs it at plugin load, outside Scrypted run `npm install`',
  );
}

export function loadNative<T>(name: string): T {
  return createRequire(path.join(process.cwd(), 'noop.js'))(resolveNative(name)) as T;
}
