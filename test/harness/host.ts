import type {
  Device, DeviceManager, DeviceManifest, DeviceState, EndpointManager, EventDetails, EventListener, EventListenerOptions,
  EventListenerRegister, Logger, ScryptedDevice, ScryptedNativeId, SystemDeviceState, SystemManager, WritableDeviceState,
} from '@scrypted/sdk';
import { Console } from 'console';
import { Writable } from 'stream';
import { HostMediaManager } from './media';
import { MemoryStorage } from './storage';

export interface RecordedEvent {
  deviceId: string;
  nativeId?: string;
  eventInterface: string;
  eventData: unknown;
  /** Set when a mixin fired it on the device it is mixed into. */
  mixin?: boolean;
  time: number;
}

interface DeviceRecord {
  state: DeviceState & Record<string, unknown>;
  /** The object whose methods the device exposes (a fake camera, or the plugin itself). */
  impl?: object;
}

/** A console that keeps what it is given, so tests can read the plugin's console. */
export class RecordingConsole extends Console {
  readonly lines: string[] = [];
  constructor(prefix: string, echo = !!process.env.HARNESS_VERBOSE) {
    const lines: string[] = [];
    super(new Writable({
      write(chunk, _enc, done) {
        const text = chunk.toString();
        lines.push(...text.trimEnd().split('\n'));
        if (echo) process.stderr.write(`[${prefix}] ${text}`);
        done();
      },
    }));
    this.lines = lines;
  }
  text(): string {
    return this.lines.join('\n');
  }
}

class RecordingLogger implements Logger {
  readonly alerts: string[] = [];
  readonly messages: string[] = [];
  a(msg: string) { this.alerts.push(msg); }
  clear() { this.messages.length = 0; }
  clearAlert(msg: string) { this.alerts.splice(this.alerts.indexOf(msg), 1); }
  clearAlerts() { this.alerts.length = 0; }
  d(msg: string) { this.messages.push(msg); }
  e(msg: string) { this.messages.push(msg); }
  i(msg: string) { this.messages.push(msg); }
  v(msg: string) { this.messages.push(msg); }
  w(msg: string) { this.messages.push(msg); }
}

/**
 * An in-memory Scrypted host built on @scrypted/sdk's own interfaces: the device, system,
 * media and endpoint managers a plugin is handed, device storage, consoles and events.
 * It drives a plugin the way the server does (see load.ts) and records what the plugin does.
 */
export class TestHost {
  readonly pluginId = '@nvr-detect/scrypted-detector';
  readonly pluginDeviceId = '1';
  readonly events: RecordedEvent[] = [];
  readonly mediaManager = new HostMediaManager();
  readonly devices = new Map<string, DeviceRecord>();
  readonly storages = new Map<string, MemoryStorage>();
  readonly consoles = new Map<string, RecordingConsole>();
  readonly loggers = new Map<string, RecordingLogger>();
  private readonly listeners = new Set<{ id?: string; event?: string; callback: EventListener }>();
  private nextId = 100;

  constructor() {
    this.devices.set(this.pluginDeviceId, {
      state: this.newState(this.pluginDeviceId, undefined, 'NVR Object Detector', 'API', []),
    });
  }

  private newState(id: string, nativeId: string | undefined, name: string, type: string, interfaces: string[]): DeviceRecord['state'] {
    return {
      id, nativeId, name, type, interfaces: [...interfaces], providedInterfaces: [...interfaces], mixins: [],
      pluginId: this.pluginId, providerId: this.pluginDeviceId, providedName: name, providedType: type, sensors: {},
    };
  }

  /** Adds a device of another plugin (a camera), whose methods `impl` implements. */
  addDevice(name: string, type: string, interfaces: string[], impl: object): string {
    const id = String(this.nextId++);
    const state = this.newState(id, undefined, name, type, interfaces);
    state.pluginId = '@scrypted/test-camera';
    this.devices.set(id, { state, impl });
    return id;
  }

  storageFor(key: string): MemoryStorage {
    let storage = this.storages.get(key);
    if (!storage) this.storages.set(key, (storage = new MemoryStorage()));
    return storage;
  }

  consoleFor(key: string): RecordingConsole {
    let console = this.consoles.get(key);
    if (!console) this.consoles.set(key, (console = new RecordingConsole(key)));
    return console;
  }

  private loggerFor(key: string): RecordingLogger {
    let logger = this.loggers.get(key);
    if (!logger) this.loggers.set(key, (logger = new RecordingLogger()));
    return logger;
  }

  private idForNativeId(nativeId: ScryptedNativeId): string {
    for (const [id, record] of this.devices) if (record.state.nativeId === (nativeId ?? undefined) && record.state.pluginId === this.pluginId) return id;
    throw new Error(`no device with native id ${nativeId}`);
  }

  private record(event: RecordedEvent): void {
    this.events.push(event);
    const details: EventDetails = { eventId: String(this.events.length), eventInterface: event.eventInterface, eventTime: event.time };
    for (const l of this.listeners) {
      if (l.id && l.id !== event.deviceId) continue;
      if (l.event && l.event !== event.eventInterface) continue;
      l.callback(this.systemManager.getDeviceById(event.deviceId), details, event.eventData);
    }
  }

  eventsOf(eventInterface: string, deviceId?: string): RecordedEvent[] {
    return this.events.filter((e) => e.eventInterface === eventInterface && (!deviceId || e.deviceId === deviceId));
  }

  readonly deviceManager: DeviceManager = {
    getDeviceLogger: (nativeId) => this.loggerFor(nativeId ?? 'plugin'),
    getDeviceConsole: (nativeId) => this.consoleFor(nativeId ?? 'plugin'),
    getMixinConsole: (mixinId, nativeId) => this.consoleFor(`mixin:${mixinId}:${nativeId ?? 'plugin'}`),
    getDeviceState: (nativeId) => this.devices.get(this.idForNativeId(nativeId))!.state,
    createDeviceState: (id: string, setState: (property: string, value: unknown) => Promise<void>): WritableDeviceState => {
      const state = this.devices.get(id)?.state;
      if (!state) throw new Error(`no device ${id}`);
      const writable = Object.assign(state, { setState }) as unknown as WritableDeviceState;
      return new Proxy(writable, {
        set: (target, property, value) => {
          (target as unknown as Record<string | symbol, unknown>)[property] = value;
          void setState(String(property), value);
          return true;
        },
      });
    },
    getMixinStorage: (id, nativeId) => this.storageFor(`mixin:${id}:${nativeId ?? 'plugin'}`),
    onMixinEvent: async (id, _mixinDevice, eventInterface, eventData) => {
      this.record({ deviceId: id, eventInterface, eventData, mixin: true, time: Date.now() });
    },
    getDeviceStorage: (nativeId) => this.storageFor(`device:${nativeId ?? 'plugin'}`),
    getNativeIds: () => [...this.devices.values()].filter((d) => d.state.pluginId === this.pluginId).map((d) => d.state.nativeId as string),
    onDeviceDiscovered: async (device: Device) => {
      const id = String(this.nextId++);
      this.devices.set(id, { state: this.newState(id, device.nativeId, device.name ?? '', device.type ?? '', device.interfaces ?? []) });
      return id;
    },
    onDeviceEvent: async (nativeId, eventInterface, eventData) => {
      this.record({ deviceId: this.idForNativeId(nativeId), nativeId: nativeId ?? undefined, eventInterface, eventData, time: Date.now() });
    },
    onDeviceRemoved: async (nativeId) => {
      this.devices.delete(this.idForNativeId(nativeId));
    },
    onDevicesChanged: async (manifest: DeviceManifest) => {
      for (const device of manifest.devices ?? []) await this.deviceManager.onDeviceDiscovered(device);
    },
    requestRestart: async () => {
      throw new Error('restart requested: the test host does not restart plugins');
    },
  };

  /** A device as other plugins see it: state properties, methods forwarded to its implementation. */
  private deviceProxy(id: string): ScryptedDevice {
    const record = this.devices.get(id);
    if (!record) return undefined as unknown as ScryptedDevice;
    return new Proxy({} as ScryptedDevice, {
      get: (_target, property) => {
        if (property === 'listen') {
          return (event: string | EventListenerOptions, callback: EventListener) => this.systemManager.listenDevice(id, event, callback);
        }
        if (typeof property === 'string' && property in record.state) return record.state[property];
        const impl = record.impl as Record<string | symbol, unknown> | undefined;
        const value = impl?.[property];
        return typeof value === 'function' ? value.bind(impl) : value;
      },
    });
  }

  readonly systemManager: SystemManager = {
    getComponent: async (id: string) => {
      throw new Error(`component ${id} is not available in the test host`);
    },
    getDeviceById: ((idOrPluginId: string, nativeId?: ScryptedNativeId) => {
      if (nativeId !== undefined) {
        for (const [id, record] of this.devices) if (record.state.pluginId === idOrPluginId && record.state.nativeId === nativeId) return this.deviceProxy(id);
        return undefined;
      }
      return this.deviceProxy(idOrPluginId);
    }) as SystemManager['getDeviceById'],
    getDeviceByName: ((name: string) => {
      for (const [id, record] of this.devices) if (record.state.name === name) return this.deviceProxy(id);
      return undefined;
    }) as SystemManager['getDeviceByName'],
    getSystemState: () => {
      const state: { [id: string]: { [property: string]: SystemDeviceState } } = {};
      for (const [id, record] of this.devices) {
        state[id] = Object.fromEntries(Object.entries(record.state).map(([k, v]) => [k, { value: v }]));
      }
      return state;
    },
    listen: (callback: EventListener): EventListenerRegister => this.addListener({ callback }),
    listenDevice: (id: string, event: string | EventListenerOptions, callback: EventListener): EventListenerRegister =>
      this.addListener({ id, event: typeof event === 'string' ? event : event?.event, callback }),
    removeDevice: async (id: string) => {
      this.devices.delete(id);
    },
  };

  private addListener(listener: { id?: string; event?: string; callback: EventListener }): EventListenerRegister {
    this.listeners.add(listener);
    return { removeListener: () => this.listeners.delete(listener) };
  }

  listenerCount(): number {
    return this.listeners.size;
  }

  readonly endpointManager: EndpointManager = new Proxy({} as EndpointManager, {
    get: (_t, property) => async () => {
      throw new Error(`endpointManager.${String(property)} is not available in the test host`);
    },
  });

  /** The variables Scrypted hands the plugin's main.nodejs.js (see plugin-remote-worker's loadZip). */
  params(): Record<string, unknown> {
    return {
      deviceManager: this.deviceManager,
      systemManager: this.systemManager,
      mediaManager: this.mediaManager,
      endpointManager: this.endpointManager,
      pluginHostAPI: {},
      localStorage: this.storageFor('localStorage'),
      console: this.consoleFor('plugin'),
    };
  }
}
