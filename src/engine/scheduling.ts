/** The scheduler's public surface, for the plugin and the CLI. */
export { BATCH_MODES, DEFAULT_BATCH, parseBatchMode, type BatchMode, type BatchSettings } from './batching';
export { isDropped, type DroppedFrame, type FrameInput } from './job';
export { SchedulerBusyError, SchedulerClosedError } from './request-queue';
export {
  DEFAULT_SCHEDULER_OPTIONS, DetectionScheduler, type FrameMeta, type ScheduledResult, type SchedulerOptions,
} from './scheduler';
export { DROP_REASONS, formatSummary, STAGES, type DropReason, type LaneSnapshot, type Stage, type StatsSnapshot } from './stats';
export { detectStream, type DetectStreamOptions, type StreamResult } from './stream';
