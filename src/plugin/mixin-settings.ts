import { FilterError, formatMinScores, parseMinScores } from '../engine/filters';
import { validateZones, ZoneError, type Zone } from '../engine/zones';
import { numberIn, SettingError } from './settings';

/**
 * Per-camera settings: parsing and validation, kept apart from the mixin so the rules are plain
 * functions. Each validator returns the value to store or throws a SettingError whose message
 * the settings UI shows as is.
 */

export type FrameSourceMode = 'auto' | 'video' | 'snapshot';
export const FRAME_SOURCE_MODES: readonly FrameSourceMode[] = ['auto', 'video', 'snapshot'];

export const FPS_RANGE: [number, number] = [0.1, 30];
export const TRACK_END_RANGE: [number, number] = [0.2, 600];
export const SIMILARITY_RANGE: [number, number] = [0.1, 50];

function bool(title: string, value: unknown): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new SettingError(`${title} must be true or false (got "${String(value)}")`);
}

export function validateClasses(value: unknown, labels: readonly string[]): string[] {
  let list: unknown[];
  if (Array.isArray(value)) list = value;
  else if (value == null || value === '') list = [];
  else if (typeof value === 'string') {
    const text = value.trim();
    try {
      list = text.startsWith('[') ? JSON.parse(text) : text.split(',');
    } catch {
      throw new SettingError(`classes must be a list of class names (got "${value}")`);
    }
  } else throw new SettingError(`classes must be a list of class names (got "${String(value)}")`);
  const names = list.map((c) => String(c).trim()).filter(Boolean);
  const unknown = names.filter((c) => !labels.includes(c));
  if (unknown.length) {
    throw new SettingError(`unknown class(es) ${unknown.join(', ')}: the model knows ${labels.slice(0, 8).join(', ')}, ...`);
  }
  return [...new Set(names)];
}

/** `person=0.5, car=0.6` with known classes and scores within 0..1; stored in its normal text form. */
export function validateMinScores(value: unknown, labels: readonly string[]): string {
  let scores: Record<string, number>;
  try {
    scores = parseMinScores(String(value ?? ''));
  } catch (e) {
    if (e instanceof FilterError) throw new SettingError(e.message);
    throw e;
  }
  const unknown = Object.keys(scores).filter((c) => !labels.includes(c));
  if (unknown.length) throw new SettingError(`minimum score given for unknown class(es) ${unknown.join(', ')}`);
  return formatMinScores(scores);
}

/**
 * Zones as JSON: `[{"name": "driveway", "type": "include", "polygon": [[0.1, 0.5], [0.9, 0.5], [0.9, 1], [0.1, 1]]}]`,
 * coordinates normalised to 0..1 of the frame (origin top-left). Stored pretty-printed.
 */
export function parseZones(value: unknown): Zone[] {
  if (value == null || (typeof value === 'string' && !value.trim())) return [];
  let zones: unknown = value;
  if (typeof value === 'string') {
    try {
      zones = JSON.parse(value);
    } catch (e) {
      throw new SettingError(`zones must be JSON, a list like [{"name": "yard", "type": "include", "polygon": [[0,0],[1,0],[1,1]]}] (${(e as Error).message})`);
    }
  }
  if (!Array.isArray(zones)) throw new SettingError('zones must be a JSON list of {name, type, polygon} objects');
  try {
    return validateZones(zones as Zone[]) as Zone[];
  } catch (e) {
    if (e instanceof ZoneError) throw new SettingError(e.message);
    throw e;
  }
}

export function validateZonesSetting(value: unknown): string {
  const zones = parseZones(value);
  return zones.length ? JSON.stringify(zones) : '';
}

/** Validators by setting key; keys without one are stored as given. */
export const cameraValidators: Record<string, (value: unknown, labels: readonly string[]) => unknown> = {
  enabled: (v) => bool('enabled', v),
  fps: (v) => numberIn('detection fps cap', v, ...FPS_RANGE),
  frameSource: (v) => {
    const mode = String(v ?? '').trim().toLowerCase();
    if (!FRAME_SOURCE_MODES.includes(mode as FrameSourceMode)) {
      throw new SettingError(`frame source must be one of ${FRAME_SOURCE_MODES.join(', ')} (got "${String(v)}")`);
    }
    return mode;
  },
  classes: validateClasses,
  minScores: validateMinScores,
  zones: validateZonesSetting,
  similaritySkip: (v) => bool('skip unchanged frames', v),
  similarityThreshold: (v) => numberIn('unchanged-frame threshold', v, ...SIMILARITY_RANGE),
  trackEndSeconds: (v) => numberIn('track end time', v, ...TRACK_END_RANGE),
};
