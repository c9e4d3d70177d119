import { execFile } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { promisify } from 'util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CocoDatasetError, openDataset, readGroundTruth, subsetGroundTruth, validateGroundTruth } from '../../src/eval/coco-dataset';
import { EvalError, createEvalDetector, runEvaluation, DEFAULT_EVAL } from '../../src/eval/run-eval';
import { resultFileName, summaryMarkdown } from '../../src/eval/results';
import { COCO, REPO, YOLOX } from '../paths';

const goodGt = () => ({
  images: [
    { id: 1, file_name: 'a.jpg', width: 4, height: 4 },
    { id: 2, file_name: 'b.jpg', width: 4, height: 4 },
  ],
  annotations: [{ id: 10, image_id: 1, category_id: 1, bbox: [0, 0, 2, 2], area: 4, iscrowd: 0 }],
  categories: [{ id: 1, name: 'person' }],
});

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coco-bad-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function folder(name: string, json: string | undefined, images: string[]): string {
  const d = path.join(dir, name);
  fs.mkdirSync(path.join(d, 'images'), { recursive: true });
  if (json !== undefined) fs.writeFileSync(path.join(d, 'instances_test.json'), json);
  for (const im of images) fs.writeFileSync(path.join(d, 'images', im), 'x');
  return d;
}

describe('COCO dataset: bad input gives clear errors', () => {
  it('missing annotation file', () => {
    expect(() => readGroundTruth(path.join(dir, 'nope.json'))).toThrow(CocoDatasetError);
    expect(() => readGroundTruth(path.join(dir, 'nope.json'))).toThrow(/cannot read annotation file .*nope\.json/);
    const empty = folder('no-json', undefined, ['a.jpg']);
    expect(() => openDataset(empty)).toThrow(/has no annotation file/);
  });

  it('malformed JSON', () => {
    const d = folder('malformed', '{"images": [', ['a.jpg']);
    expect(() => openDataset(d)).toThrow(/instances_test\.json is not valid JSON/);
  });

  it('JSON that is not COCO ground truth names the bad field', () => {
    const cases: [unknown, RegExp][] = [
      [[], /top level is not an object/],
      [{ images: [], annotations: [], categories: [] }, /"images" is empty/],
      [{ ...goodGt(), annotations: undefined }, /"annotations" is missing/],
      [{ ...goodGt(), annotations: [{ id: 10, image_id: 1, category_id: 1, area: 4 }] }, /annotations\[0\] \(id 10\) needs "bbox"/],
      [{ ...goodGt(), annotations: [{ id: 10, image_id: 9, category_id: 1, bbox: [0, 0, 1, 1], area: 1 }] }, /names image 9, which is not in "images"/],
      [{ ...goodGt(), annotations: [{ id: 10, image_id: 1, category_id: 5, bbox: [0, 0, 1, 1], area: 1 }] }, /names category 5/],
      [{ ...goodGt(), annotations: [{ id: 0, image_id: 1, category_id: 1, bbox: [0, 0, 1, 1], area: 1 }] }, /not positive and unique/],
      [{ ...goodGt(), images: [{ id: 1, file_name: 'a.jpg' }] }, /needs positive "width" and "height"/],
    ];
    for (const [json, message] of cases) {
      expect(() => validateGroundTruth(json, 'gt.json')).toThrow(CocoDatasetError);
      expect(() => validateGroundTruth(json, 'gt.json')).toThrow(message);
    }
  });

  it('an image the annotations name that is not on disk fails the whole run, naming it', () => {
    const d = folder('missing-image', JSON.stringify(goodGt()), ['a.jpg']);
    expect(() => openDataset(d)).toThrow(/1 of 2 images named in .*instances_test\.json are not in .*images \(b\.jpg\)/);
    // With --limit the check covers exactly the images evaluated.
    expect(openDataset(d, { limit: 1 }).gt.images).toHaveLength(1);
  });

  it('several annotation files need one named', () => {
    const d = folder('two-json', JSON.stringify(goodGt()), ['a.jpg', 'b.jpg']);
    fs.writeFileSync(path.join(d, 'instances_other.json'), JSON.stringify(goodGt()));
    expect(() => openDataset(d)).toThrow(/several annotation files/);
    expect(openDataset(d, { annotationFile: 'instances_other.json' }).gt.images).toHaveLength(2);
  });

  it('subset keeps the annotations of the kept images and refuses a bad limit', () => {
    const gt = validateGroundTruth(goodGt(), 'gt.json');
    expect(subsetGroundTruth(gt, 1).annotations).toHaveLength(1);
    expect(subsetGroundTruth(gt, 1).images.map((i) => i.id)).toEqual([1]);
    expect(() => subsetGroundTruth(gt, 0)).toThrow(/positive integer/);
  });

  it.skipIf(!fs.existsSync(YOLOX))('an image that cannot be decoded fails the run with its path, not a crash or a skip', async () => {
    const d = folder('corrupt-image', JSON.stringify(goodGt()), ['a.jpg', 'b.jpg']);
    await expect(runEvaluation({ ...DEFAULT_EVAL, cocoDir: d, model: YOLOX })).rejects.toThrow(/detection failed on .*a\.jpg/);
    // Two lanes: the first failure still ends the run with that image's name.
    await expect(runEvaluation({ ...DEFAULT_EVAL, cocoDir: d, model: YOLOX, concurrency: 2 })).rejects.toThrow(/detection failed on .*[ab]\.jpg/);
  });
});

describe('eval configuration errors', () => {
  it.skipIf(!fs.existsSync(YOLOX))('unknown runtime is reported as not available', async () => {
    await expect(createEvalDetector({ ...DEFAULT_EVAL, model: YOLOX, runtime: 'no-such-runtime' })).rejects.toThrow(EvalError);
    await expect(createEvalDetector({ ...DEFAULT_EVAL, model: YOLOX, runtime: 'no-such-runtime' })).rejects.toThrow(/runtime "no-such-runtime" is not available/);
  });

  it.skipIf(!fs.existsSync(YOLOX))('--input-size on a model with a fixed input is refused, naming the shape', async () => {
    await expect(createEvalDetector({ ...DEFAULT_EVAL, model: YOLOX, inputSize: 320 })).rejects.toThrow(/fixed 416x416 input .*--input-size 320 cannot be used/);
  });

  it('the CLI exits 1 with the message for a missing image, and 2 for bad arguments', async () => {
    const run = promisify(execFile);
    const tsx = path.join(REPO, 'node_modules', '.bin', 'tsx');
    const d = folder('cli-missing', JSON.stringify(goodGt()), ['a.jpg']);
    const failed = await run(tsx, ['src/cli/eval.ts', '--coco', d, '--no-save'], { cwd: REPO }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(1);
    expect((failed as { stderr: string }).stderr).toMatch(/eval: 1 of 2 images named in .* are not in .*\(b\.jpg\)/);
    const usage = await run(tsx, ['src/cli/eval.ts', '--coco', d, '--limit', 'x'], { cwd: REPO }).catch((e: { code: number; stderr: string }) => e);
    expect((usage as { code: number }).code).toBe(2);
    expect((usage as { stderr: string }).stderr).toMatch(/--limit must be a positive integer/);
  });
});

describe('results files', () => {
  it('a --limit run does not overwrite the full-set result', () => {
    const r = { model: 'yolox_nano', runtime: 'onnx', inputSize: '416', images: 25 };
    expect(resultFileName(r, true)).toBe('eval-yolox_nano-onnx-416.json');
    expect(resultFileName(r, false)).toBe('eval-yolox_nano-onnx-416-25img.json');
  });

  it('the summary table has a row per result', () => {
    expect(summaryMarkdown([])).toContain('| model | runtime |');
  });

  it.skipIf(!fs.existsSync(COCO))('the shared COCO set opens whole: 500 images, 3,842 annotations, all on disk', () => {
    const ds = openDataset(COCO);
    expect(ds.gt.images).toHaveLength(500);
    expect(ds.gt.annotations).toHaveLength(3842);
    expect(ds.gt.annotations.filter((a) => a.iscrowd)).toHaveLength(43);
  });
});
