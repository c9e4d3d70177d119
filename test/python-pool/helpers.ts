import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { media, REPO, YOLOX as MODEL } from '../paths';

export { REPO, SHARED, YOLOX as MODEL } from '../paths';
export const DOG = media('dog.jpg');

/**
 * The interpreter with the pool's packages: $NVR_PYTHON, else <repo>/.venv/bin/python (made by
 * npm run setup:python). Undefined, with the reason, when neither has openvino+onnxruntime.
 */
function findTestPython(): { python?: string; why: string } {
  const candidates = [process.env.NVR_PYTHON, path.join(REPO, '.venv', 'bin', 'python')].filter((p): p is string => !!p);
  for (const python of candidates) {
    if (!existsSync(python) && python.includes('/')) continue;
    try {
      execFileSync(python, ['-c', 'import openvino, onnxruntime, cv2, numpy'], { stdio: 'ignore', timeout: 30_000 });
      return { python, why: '' };
    } catch {
      // try the next one
    }
  }
  return { why: `no Python with the pool packages (NVR_PYTHON or ${path.join(REPO, '.venv/bin/python')}); run npm run setup:python` };
}

const found = findTestPython();
export const TEST_PYTHON = found.python;
export const SKIP_REASON = found.why || (!existsSync(MODEL) ? `model missing: ${MODEL}` : '');
if (SKIP_REASON) console.warn(`python-pool tests skipped: ${SKIP_REASON}`);

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
