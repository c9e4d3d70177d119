import { describe, expect, it } from 'vitest';
import { filterDetections, formatMinScores, lowestMinScore, parseMinScores } from '../../src/engine/filters';
import { anchorPoint, applyZones, pointInPolygon, validateZones, type Zone } from '../../src/engine/zones';

const det = (className: string, score: number, box: [number, number, number, number]) => ({ className, score, boundingBox: box });

describe('zones', () => {
  // A 1000x500 image. Driveway: the lower-left quarter. Street: an exclusion strip at the top.
  const dims: [number, number] = [1000, 500];
  const driveway: Zone = { name: 'driveway', type: 'include', polygon: [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]] };
  const porch: Zone = { name: 'porch', type: 'include', polygon: [[0.25, 0.6], [0.75, 0.6], [0.75, 1], [0.25, 1]] };
  const street: Zone = { name: 'street', type: 'exclude', polygon: [[0, 0], [1, 0], [1, 0.2], [0, 0.2]] };

  it('tests points in polygons, including concave ones', () => {
    const l: [number, number][] = [[0, 0], [1, 0], [1, 0.3], [0.3, 0.3], [0.3, 1], [0, 1]];
    expect(pointInPolygon(0.1, 0.9, l)).toBe(true);
    expect(pointInPolygon(0.9, 0.9, l)).toBe(false);
    expect(pointInPolygon(0.9, 0.1, l)).toBe(true);
  });

  it('uses the bottom centre of the box (the feet) by default', () => {
    // Box spans y 100..300 (centre 200 = 0.4, above the driveway), feet at 300 (0.6, inside).
    const d = det('person', 0.9, [100, 100, 50, 200]);
    expect(anchorPoint(d.boundingBox, 1000, 500)).toEqual([0.125, 0.6]);
    expect(applyZones([d], [driveway], dims)).toEqual([{ ...d, zones: ['driveway'] }]);
    expect(applyZones([d], [driveway], dims, { anchor: 'center' })).toEqual([]);
  });

  it('does not report a detection outside every inclusion zone', () => {
    const outside = det('person', 0.9, [800, 100, 50, 100]);
    const inside = det('person', 0.9, [100, 300, 50, 100]);
    expect(applyZones([outside, inside], [driveway], dims).map((d) => d.boundingBox)).toEqual([inside.boundingBox]);
  });

  it('does not report a detection inside an exclusion zone, even inside an inclusion zone too', () => {
    const onStreet = det('car', 0.9, [100, 0, 200, 80]);
    const elsewhere = det('car', 0.9, [600, 200, 200, 80]);
    expect(applyZones([onStreet, elsewhere], [street], dims)).toEqual([{ ...elsewhere, zones: [] }]);
    const both: Zone = { name: 'all', type: 'include', polygon: [[0, 0], [1, 0], [1, 1], [0, 1]] };
    expect(applyZones([onStreet], [both, street], dims)).toEqual([]);
  });

  it('lists every inclusion zone a detection is in; no zones means everything passes', () => {
    const d = det('person', 0.9, [350, 300, 40, 150]); // feet at (0.37, 0.9)
    expect(applyZones([d], [driveway, porch, street], dims)[0].zones).toEqual(['driveway', 'porch']);
    expect(applyZones([d], [], dims)).toEqual([{ ...d, zones: [] }]);
  });

  it('validates zones with messages that name the zone', () => {
    expect(() => validateZones([{ name: 'a', type: 'include', polygon: [[0, 0], [1, 1]] }])).toThrow(/zone "a".*3 points/);
    expect(() => validateZones([{ name: 'b', type: 'include', polygon: [[0, 0], [50, 0], [0, 1]] }])).toThrow(/zone "b".*0\.\.1/);
    expect(() => validateZones([driveway, driveway])).toThrow(/twice/);
    expect(() => validateZones([{ name: 'c', type: 'other' as 'include', polygon: driveway.polygon }])).toThrow(/include.*exclude/);
    expect(validateZones([driveway, street])).toHaveLength(2);
  });
});

describe('class and score filters', () => {
  const all = [det('person', 0.35, [0, 0, 1, 1]), det('person', 0.6, [0, 0, 1, 1]), det('car', 0.45, [0, 0, 1, 1]), det('dog', 0.9, [0, 0, 1, 1])];

  it('keeps wanted classes above their minimum score', () => {
    expect(filterDetections(all, {})).toHaveLength(4);
    expect(filterDetections(all, { classes: ['person', 'car'] }).map((d) => d.className)).toEqual(['person', 'person', 'car']);
    expect(filterDetections(all, { minScore: 0.4, minScoreByClass: { person: 0.5 } }).map((d) => d.score)).toEqual([0.6, 0.45, 0.9]);
    expect(filterDetections(all, { classes: ['car'], minScoreByClass: { car: 0.5 } })).toEqual([]);
    expect(lowestMinScore({ minScore: 0.4, minScoreByClass: { person: 0.3 } })).toBe(0.3);
  });

  it('parses the settings text of per-class scores', () => {
    expect(parseMinScores('person=0.5, car:0.6\ndog = .7')).toEqual({ person: 0.5, car: 0.6, dog: 0.7 });
    expect(parseMinScores('  ')).toEqual({});
    expect(() => parseMinScores('person')).toThrow(/CLASS=SCORE/);
    expect(() => parseMinScores('person=2')).toThrow(/0\.\.1/);
    expect(formatMinScores({ person: 0.5, car: 0.6 })).toBe('person=0.5, car=0.6');
  });
});
