import fs from 'fs';
import path from 'path';

/**
 * A COCO-format detection ground truth (images, annotations, categories), checked on load so
 * that a broken file or a missing image fails loudly instead of quietly evaluating fewer images.
 */

export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  /** [x, y, width, height] in image pixels. */
  bbox: [number, number, number, number];
  /** Segment area; COCO's small / medium / large split uses this, not the box area. */
  area: number;
  iscrowd: 0 | 1;
}

export interface CocoCategory {
  id: number;
  name: string;
}

export interface CocoGroundTruth {
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}

/** A detection in COCO's results format. */
export interface CocoDetection {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
}

export class CocoDatasetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CocoDatasetError';
  }
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks the parsed JSON's shape; `source` names the file in messages. */
export function validateGroundTruth(json: unknown, source: string): CocoGroundTruth {
  const fail = (why: string): never => {
    throw new CocoDatasetError(`annotation file ${source} is not valid COCO detection ground truth: ${why}`);
  };
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail('top level is not an object');
  const root = json as Record<string, unknown>;
  for (const key of ['images', 'annotations', 'categories']) {
    if (!Array.isArray(root[key])) fail(`"${key}" is missing or not an array`);
  }
  const images = root.images as Record<string, unknown>[];
  const annotations = root.annotations as Record<string, unknown>[];
  const categories = root.categories as Record<string, unknown>[];
  if (!images.length) fail('"images" is empty');

  const imageIds = new Set<number>();
  images.forEach((im, i) => {
    if (!im || !isFiniteNumber(im.id) || typeof im.file_name !== 'string' || !im.file_name) fail(`images[${i}] needs a numeric "id" and a "file_name"`);
    if (!isFiniteNumber(im.width) || !isFiniteNumber(im.height) || (im.width as number) <= 0 || (im.height as number) <= 0) {
      fail(`images[${i}] (${String(im.file_name)}) needs positive "width" and "height"`);
    }
    if (imageIds.has(im.id as number)) fail(`image id ${String(im.id)} appears twice`);
    imageIds.add(im.id as number);
  });
  const categoryIds = new Set<number>();
  categories.forEach((c, i) => {
    if (!c || !isFiniteNumber(c.id) || typeof c.name !== 'string') fail(`categories[${i}] needs a numeric "id" and a "name"`);
    categoryIds.add(c.id as number);
  });
  const annotationIds = new Set<number>();
  annotations.forEach((a, i) => {
    if (!a || !isFiniteNumber(a.id) || !isFiniteNumber(a.image_id) || !isFiniteNumber(a.category_id)) {
      fail(`annotations[${i}] needs numeric "id", "image_id" and "category_id"`);
    }
    // Matching marks a ground truth as taken by its id, so 0 or a repeated id would corrupt it.
    if ((a.id as number) <= 0 || annotationIds.has(a.id as number)) fail(`annotations[${i}] has id ${String(a.id)}, which is not positive and unique`);
    annotationIds.add(a.id as number);
    if (!imageIds.has(a.image_id as number)) fail(`annotations[${i}] (id ${String(a.id)}) names image ${String(a.image_id)}, which is not in "images"`);
    if (!categoryIds.has(a.category_id as number)) fail(`annotations[${i}] (id ${String(a.id)}) names category ${String(a.category_id)}, which is not in "categories"`);
    const bbox = a.bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(isFiniteNumber)) fail(`annotations[${i}] (id ${String(a.id)}) needs "bbox" [x, y, w, h]`);
    if (!isFiniteNumber(a.area)) fail(`annotations[${i}] (id ${String(a.id)}) needs a numeric "area"`);
    if (a.iscrowd !== undefined && a.iscrowd !== 0 && a.iscrowd !== 1) fail(`annotations[${i}] (id ${String(a.id)}) has "iscrowd" ${String(a.iscrowd)}, expected 0 or 1`);
  });
  return {
    images: images.map((im) => ({ id: im.id as number, file_name: im.file_name as string, width: im.width as number, height: im.height as number })),
    annotations: annotations.map((a) => ({
      id: a.id as number,
      image_id: a.image_id as number,
      category_id: a.category_id as number,
      bbox: [...(a.bbox as number[])] as [number, number, number, number],
      area: a.area as number,
      iscrowd: a.iscrowd === 1 ? 1 : 0,
    })),
    categories: categories.map((c) => ({ id: c.id as number, name: c.name as string })),
  };
}

export function readGroundTruth(file: string): CocoGroundTruth {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CocoDatasetError(`cannot read annotation file ${file}: ${(e as Error).message}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CocoDatasetError(`annotation file ${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  return validateGroundTruth(json, file);
}

/** A ground truth with its image folder, every named image checked to be on disk. */
export interface CocoDataset {
  annotationFile: string;
  imageDir: string;
  gt: CocoGroundTruth;
}

export interface OpenDatasetOptions {
  /** Annotation file name inside the folder; found automatically when there is exactly one `*.json`. */
  annotationFile?: string;
  /** Keep only the first N images (in the file's order), and the annotations on them. */
  limit?: number;
}

function findAnnotationFile(dir: string): string {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (e) {
    throw new CocoDatasetError(`cannot read COCO folder ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const candidates = entries.filter((f) => f.endsWith('.json')).sort();
  const preferred = candidates.filter((f) => f.startsWith('instances_'));
  const pick = preferred.length === 1 ? preferred : candidates;
  if (pick.length !== 1) {
    throw new CocoDatasetError(
      pick.length
        ? `COCO folder ${dir} has several annotation files (${pick.join(', ')}); name one with --annotations`
        : `COCO folder ${dir} has no annotation file (*.json); expected e.g. instances_val2017.json beside images/`,
    );
  }
  return path.join(dir, pick[0]);
}

/** Keeps the first `limit` images and the annotations on them (all categories stay). */
export function subsetGroundTruth(gt: CocoGroundTruth, limit: number): CocoGroundTruth {
  if (!Number.isInteger(limit) || limit < 1) throw new CocoDatasetError(`image limit must be a positive integer, got ${limit}`);
  const images = gt.images.slice(0, limit);
  const keep = new Set(images.map((im) => im.id));
  return { images, annotations: gt.annotations.filter((a) => keep.has(a.image_id)), categories: gt.categories };
}

/**
 * Opens `dir` laid out as `<dir>/<annotations>.json` and `<dir>/images/<file_name>` (the images
 * may also sit beside the annotation file). Every image the (limited) ground truth names must
 * exist: a missing one is an error, never a silently smaller evaluation.
 */
export function openDataset(dir: string, options: OpenDatasetOptions = {}): CocoDataset {
  const annotationFile = options.annotationFile ? path.resolve(dir, options.annotationFile) : findAnnotationFile(dir);
  let gt = readGroundTruth(annotationFile);
  if (options.limit !== undefined) gt = subsetGroundTruth(gt, options.limit);
  const imagesSub = path.join(dir, 'images');
  const imageDir = fs.existsSync(imagesSub) && fs.statSync(imagesSub).isDirectory() ? imagesSub : dir;
  const missing = gt.images.filter((im) => !fs.existsSync(path.join(imageDir, im.file_name)));
  if (missing.length) {
    const shown = missing.slice(0, 5).map((im) => im.file_name).join(', ');
    throw new CocoDatasetError(
      `${missing.length} of ${gt.images.length} images named in ${annotationFile} are not in ${imageDir} (${shown}${missing.length > 5 ? ', ...' : ''})`,
    );
  }
  return { annotationFile, imageDir, gt };
}

export function imagePath(dataset: CocoDataset, image: CocoImage): string {
  return path.join(dataset.imageDir, image.file_name);
}
