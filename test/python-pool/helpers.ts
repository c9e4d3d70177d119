import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { media, pythonWith, REPO, YOLOX as MODEL } from '../paths';

export { YOLOX as MODEL } from '../paths';
export const DOG = media('dog.jpg');

/** The interpreter with the pool's packages ($NVR_PYTHON or the project's .venv). */
export const TEST_PYTHON = pythonWith('openvino, onnxruntime, cv2, numpy');
const why = TEST_PYTHON ? '' : `no Python with the pool packages (NVR_PYTHON or ${path.join(REPO, '.venv/bin/python')}); run npm run setup:python`;
export const SKIP_REASON = why || (!existsSync(MODEL) ? `model missing: ${MODEL}` : '');
if (SKIP_REASON) console.warn(`python-pool tests skipped: ${SKIP_REASON}`);

/** Python pool processes this test process started (the supervisor spawns them as children). */
export function poolChildren(): string[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-f', 'nvr_pool'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
