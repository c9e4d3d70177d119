import type { MediaManager, SystemManager } from '@scrypted/sdk';
import type { DetectOptions } from '../engine/detector';
import type { DetectionScheduler } from '../engine/scheduler';
import type { ModelSpec } from '../models/spec';

/**
 * What the plugin gives each camera mixin: the one shared scheduler, the active model and the
 * plugin-wide detection options. The mixin never loads models or owns runtimes.
 */
export interface PluginServices {
  scheduler: DetectionScheduler;
  /** The model serving now (waits for the first load). */
  spec(): Promise<ModelSpec>;
  /** Plugin-wide confidence, NMS IoU and classes; a camera narrows them with its own settings. */
  detectOptions(): DetectOptions;
  mediaManager: MediaManager;
  systemManager: SystemManager;
}
