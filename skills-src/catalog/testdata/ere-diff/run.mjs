// Runs ere_diff.wasm (a WASI command) under Node's WASI: node run.mjs x N SEED
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
const wasi = new WASI({ version: 'preview1', args: process.argv.slice(2), env: {} });
const mod = await WebAssembly.compile(await readFile(new URL('ere_diff.wasm', import.meta.url)));
const inst = await WebAssembly.instantiate(mod, wasi.getImportObject());
wasi.start(inst);
