import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The shared data beside the repository (`../shared`), or $NVR_SHARED_DIR: one place for every test. */
export const REPO = path.resolve(__dirname, '..');
export const SHARED = process.env.NVR_SHARED_DIR ?? path.resolve(REPO, '../shared');
export const MODELS = path.join(SHARED, 'models');
export const MEDIA = path.join(SHARED, 'media');
export const COCO = path.join(SHARED, 'coco');
export const YOLOX = path.join(MODELS, 'yolox_nano.onnx');
export const YOLOV5 = path.join(MODELS, 'yolov5s.onnx');
export const VTEST = path.join(MEDIA, 'vtest.avi');
export const media = (name: string) => path.join(MEDIA, name);

const pythons = new Map<string, string | undefined>();

/**
 * A Python that can `import <imports>`: $NVR_PYTHON, else the project's .venv/bin/python (made by
 * npm run setup:python); undefined when neither can. Probed once per set of imports.
 */
export function pythonWith(imports: string): string | undefined {
  if (!pythons.has(imports)) {
    const candidates = [process.env.NVR_PYTHON, path.join(REPO, '.venv', 'bin', 'python')].filter((p): p is string => !!p);
    pythons.set(imports, candidates.find((python) => {
      if (!existsSync(python) && python.includes('/')) return false;
      try {
        execFileSync(python, ['-c', `import ${imports}`], { stdio: 'ignore', timeout: 30_000 });
        return true;
      } catch {
        return false; // missing, or without the modules: try the next
      }
    }));
  }
  return pythons.get(imports);
}
