import type { ScryptedDeviceBase } from '@scrypted/sdk';
import { TestHost } from './host';

/** Exposes the host's managers as the globals @scrypted/sdk binds to when it loads. */
export function installHost(host: TestHost): void {
  Object.assign(globalThis, host.params());
}

/**
 * Loads the plugin from its sources the way the server loads main.nodejs.js: managers first,
 * then the module, then its default export constructed if it is a class.
 */
export async function loadPluginFromSource<T extends ScryptedDeviceBase>(host = new TestHost()): Promise<{ host: TestHost; plugin: T }> {
  installHost(host);
  const main = await import('../../src/main.js');
  return { host, plugin: instantiatePlugin((main as { default: unknown }).default) as T };
}

/** The plugin's default export, constructed if it is a class (as Scrypted does). */
export function instantiatePlugin(exported: unknown): unknown {
  return typeof exported === 'function' && exported.toString().startsWith('class ') ? new (exported as new () => unknown)() : exported;
}
