/**
 * Inclusion and exclusion zones: polygons in normalised image coordinates (0..1, origin top-left),
 * so they survive a change of stream resolution.
 *
 * What "inside" means: the detection's anchor point, by default the **bottom centre** of its
 * box, lies inside the polygon. That is what Frigate does (and what people drawing zones mean):
 * the feet of a person or the wheels of a car are on the ground the zone is drawn on, while
 * the box's centre or overlap fraction would count a person standing in front of a driveway as
 * being on it. `center` is available for top-down cameras or objects off the ground.
 *
 * Rules: a detection inside any exclusion zone is not reported; when inclusion zones exist, a
 * detection outside all of them is not reported. Reported detections carry `zones`: the names of
 * the inclusion zones they are in (empty when there are no inclusion zones).
 */

export type NormalisedPoint = [number, number];

export interface Zone {
  name: string;
  type: 'include' | 'exclude';
  /** At least 3 points, each coordinate within 0..1; closed implicitly. */
  polygon: NormalisedPoint[];
}

export type ZoneAnchor = 'bottom-center' | 'center';

export class ZoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZoneError';
  }
}

/** Throws a ZoneError naming the zone and the problem; returns the zones for chaining. */
export function validateZones(zones: readonly Zone[]): readonly Zone[] {
  const names = new Set<string>();
  zones.forEach((zone, i) => {
    const label = zone?.name ? `zone "${zone.name}"` : `zone #${i + 1}`;
    if (!zone || typeof zone.name !== 'string' || !zone.name) throw new ZoneError(`${label} has no name`);
    if (names.has(zone.name)) throw new ZoneError(`${label} is defined twice`);
    names.add(zone.name);
    if (zone.type !== 'include' && zone.type !== 'exclude') throw new ZoneError(`${label}: type must be "include" or "exclude", got ${JSON.stringify(zone.type)}`);
    if (!Array.isArray(zone.polygon) || zone.polygon.length < 3) throw new ZoneError(`${label} needs a polygon of at least 3 points`);
    for (const p of zone.polygon) {
      if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1)) {
        throw new ZoneError(`${label}: point ${JSON.stringify(p)} is not [x, y] with both within 0..1 (normalised coordinates)`);
      }
    }
  });
  return zones;
}

/** Even-odd rule (ray casting); a point exactly on an edge may fall either way. */
export function pointInPolygon(x: number, y: number, polygon: readonly NormalisedPoint[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The anchor of an [x, y, w, h] pixel box, normalised by the image size. */
export function anchorPoint(box: readonly number[], imageWidth: number, imageHeight: number, anchor: ZoneAnchor = 'bottom-center'): NormalisedPoint {
  const [x, y, w, h] = box;
  return [(x + w / 2) / imageWidth, (anchor === 'bottom-center' ? y + h : y + h / 2) / imageHeight];
}

export interface ZoneFilterOptions {
  anchor?: ZoneAnchor;
}

/**
 * Drops what the zones exclude and labels the rest with the inclusion zones they are in.
 * `inputDimensions` is the [width, height] the boxes are measured in.
 */
export function applyZones<T extends { boundingBox?: readonly number[] }>(
  detections: readonly T[],
  zones: readonly Zone[],
  inputDimensions: readonly [number, number],
  options: ZoneFilterOptions = {},
): (T & { zones: string[] })[] {
  if (!zones.length) return detections.map((d) => ({ ...d, zones: [] }));
  const [width, height] = inputDimensions;
  const includes = zones.filter((z) => z.type === 'include');
  const excludes = zones.filter((z) => z.type === 'exclude');
  const out: (T & { zones: string[] })[] = [];
  for (const d of detections) {
    if (!d.boundingBox) continue;
    const [px, py] = anchorPoint(d.boundingBox, width, height, options.anchor);
    if (excludes.some((z) => pointInPolygon(px, py, z.polygon))) continue;
    const inside = includes.filter((z) => pointInPolygon(px, py, z.polygon)).map((z) => z.name);
    if (includes.length && !inside.length) continue;
    out.push({ ...d, zones: inside });
  }
  return out;
}
