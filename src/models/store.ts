import crypto from 'crypto';
import fs from 'fs';
import http from 'http';
import https from 'https';
import os from 'os';
import path from 'path';
import { catalogEntry, inferSpec, type CatalogEntry } from './catalog';
import { readOnnxInfo, type OnnxGraphInfo } from './onnx-info';
import { validateSpec, type ModelSpec } from './spec';

export interface ResolvedModel {
  path: string;
  spec: ModelSpec;
  sha256: string;
  /** Where it came from: `file`, `cache`, `shared`, `download`. */
  source: string;
}

export interface StoreOptions {
  /** Folder downloaded models are kept in. */
  cacheDir?: string;
  /** Extra folders searched for catalog files before downloading (e.g. ../shared/models). */
  searchDirs?: string[];
  /** Replaces the catalog URL (tests point it at a local server). */
  downloadUrl?: string;
  onProgress?: (message: string) => void;
}

export class ModelStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelStoreError';
  }
}

export function defaultCacheDir(): string {
  return process.env.NVR_MODEL_CACHE ?? path.join(os.homedir(), '.cache', 'nvr-detect', 'models');
}

export function defaultSearchDirs(): string[] {
  const dirs = [path.resolve('..', 'shared', 'models')];
  if (process.env.NVR_MODELS_DIR) dirs.unshift(process.env.NVR_MODELS_DIR);
  return dirs;
}

function sha256(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/**
 * Spec for a model file: a sidecar `<file>.json` (the user's explicit word, so it wins), else the
 * catalog's (by content hash), else inferred from its graph.
 */
export function specForFile(file: string, data: Uint8Array, hash = sha256(data)): ModelSpec {
  const sidecar = file.replace(/\.onnx$/i, '') + '.json';
  if (fs.existsSync(sidecar)) {
    try {
      return validateSpec(JSON.parse(fs.readFileSync(sidecar, 'utf8')) as ModelSpec);
    } catch (e) {
      throw new ModelStoreError(`model spec ${sidecar} is invalid: ${(e as Error).message}`, { cause: e });
    }
  }
  const known = catalogEntry(hash);
  if (known) return known.spec;
  let info: OnnxGraphInfo;
  try {
    info = readOnnxInfo(data);
  } catch (e) {
    throw new ModelStoreError(`model file ${file} is ${(e as Error).message}`, { cause: e });
  }
  return inferSpec(path.basename(file).replace(/\.onnx$/i, ''), info);
}

function readModelFile(file: string): Uint8Array {
  try {
    const data = fs.readFileSync(file);
    if (!data.length) throw new Error('file is empty');
    return data;
  } catch (e) {
    throw new ModelStoreError(`cannot read model file ${file}: ${(e as Error).message}`, { cause: e });
  }
}

function verified(file: string, entry: CatalogEntry): Uint8Array | undefined {
  if (!fs.existsSync(file) || fs.statSync(file).size !== entry.size) return undefined;
  const data = fs.readFileSync(file);
  return sha256(data) === entry.sha256 ? data : undefined;
}

function fetchTo(url: string, file: string, entry: CatalogEntry, onProgress: (m: string) => void, redirects = 5): Promise<void> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const request = get(url, { timeout: 30_000 }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        fetchTo(new URL(res.headers.location, url).toString(), file, entry, onProgress, redirects - 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new ModelStoreError(`download of ${entry.id} from ${url} failed: HTTP ${status}`));
        return;
      }
      const out = fs.createWriteStream(file);
      let received = 0;
      let lastReport = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > entry.size) {
          // Stop here and reject directly: destroying the request once the response has started
          // neither stopped the pipe nor reached our handlers (the error went unhandled).
          res.unpipe(out);
          res.destroy();
          out.destroy();
          reject(new ModelStoreError(`download of ${entry.id} is larger than the expected ${entry.size} bytes`));
          return;
        }
        const percent = Math.floor((received / entry.size) * 100);
        if (percent >= lastReport + 10 || received === entry.size) {
          lastReport = percent;
          onProgress(`downloading ${entry.id}: ${percent}% (${received} of ${entry.size} bytes)`);
        }
      });
      res.pipe(out);
      out.on('finish', () => resolve());
      out.on('error', reject);
      res.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new ModelStoreError(`download of ${entry.id} from ${url} timed out`)));
    request.on('error', (e) => reject(e instanceof ModelStoreError ? e : new ModelStoreError(`download of ${entry.id} from ${url} failed: ${e.message}`, { cause: e })));
  });
}

async function download(entry: CatalogEntry, options: StoreOptions, cacheDir: string): Promise<Uint8Array> {
  const url = options.downloadUrl ?? entry.url;
  if (!url) {
    throw new ModelStoreError(`model ${entry.id} is not in ${cacheDir} and has no download address; put ${entry.fileName} there or give a path`);
  }
  const onProgress = options.onProgress ?? (() => undefined);
  fs.mkdirSync(cacheDir, { recursive: true });
  const target = path.join(cacheDir, entry.fileName);
  const partial = `${target}.${process.pid}.partial`;
  onProgress(`downloading ${entry.id} (${entry.size} bytes) from ${url}`);
  try {
    await fetchTo(url, partial, entry, onProgress);
    const data = fs.readFileSync(partial);
    if (data.length !== entry.size) throw new ModelStoreError(`download of ${entry.id} is ${data.length} bytes, expected ${entry.size}`);
    const hash = sha256(data);
    if (hash !== entry.sha256) throw new ModelStoreError(`download of ${entry.id} has sha256 ${hash}, expected ${entry.sha256}`);
    fs.renameSync(partial, target);
    onProgress(`downloaded ${entry.id}, checked and cached at ${target}`);
    return data;
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

/**
 * Finds a model by file path or catalog id. Catalog models come from the cache, then the
 * search folders, else are downloaded once (size and sha256 checked) into the cache.
 */
export async function resolveModel(ref: string, options: StoreOptions = {}): Promise<ResolvedModel> {
  const entry = catalogEntry(ref);
  if (!entry) {
    const file = path.resolve(ref);
    const data = readModelFile(file);
    const hash = sha256(data);
    return { path: file, spec: specForFile(file, data, hash), sha256: hash, source: 'file' };
  }
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const cached = path.join(cacheDir, entry.fileName);
  if (verified(cached, entry)) return { path: cached, spec: entry.spec, sha256: entry.sha256, source: 'cache' };
  for (const dir of options.searchDirs ?? defaultSearchDirs()) {
    const file = path.join(dir, entry.fileName);
    if (verified(file, entry)) return { path: file, spec: entry.spec, sha256: entry.sha256, source: 'shared' };
  }
  await download(entry, options, cacheDir);
  return { path: cached, spec: entry.spec, sha256: entry.sha256, source: 'download' };
}
