// npm run build:wasm: compiles src/models/tensor-simd.wat into src/models/tensor-simd-wasm.ts,
// the module's bytes as base64, so neither the plugin nor its workers need a compiler at run
// time. test/models/tensor-simd.test.ts fails when the two disagree.
import fs from 'fs';
import path from 'path';
import { fileURLToPath } from 'url';
import { WASM_MODULE_TS, WAT_SOURCE, wasmModuleSource } from './wasm.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
fs.writeFileSync(path.join(root, WASM_MODULE_TS), await wasmModuleSource(fs.readFileSync(path.join(root, WAT_SOURCE), 'utf8')));
console.log(`wrote ${WASM_MODULE_TS}`);
