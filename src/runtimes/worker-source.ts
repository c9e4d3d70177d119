import { createRequire } from 'module';
import path from 'path';

/** Set by webpack.config.js in the plugin bundle: the worker's program, bundled at build time. */
declare const NVR_ONNX_WORKER_SOURCE: string | undefined;

let built: string | undefined;

/**
 * The onnx inference worker's program as one script (src/runtimes/onnx-worker.ts, bundled by
 * scripts/onnx-worker-bundle.cjs): inlined in the plugin bundle, built on first use from the
 * sources otherwise.
 */
export function onnxWorkerSource(): string {
  if (typeof NVR_ONNX_WORKER_SOURCE === 'string') return NVR_ONNX_WORKER_SOURCE;
  const bundler = path.resolve(__dirname, '../../scripts/onnx-worker-bundle.cjs');
  built ??= (createRequire(bundler)(bundler) as () => string)();
  return built;
}
