// Runs the validator's command module (validator.wasm) under Node's built-in
// WASI, as any WASI host would: the CLI words as arguments, the state
// directory preopened as /state, and the TENURE_* variables of this process
// passed into the module's environment.
//
//   node run.mjs validator.wasm STATE_DIR status --json
//
// The module's stdout, stderr and exit code are this process's.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import process from 'node:process';

const [wasmPath, stateDir, ...words] = process.argv.slice(2);
if (!wasmPath || !stateDir) {
  process.stderr.write('usage: node run.mjs validator.wasm STATE_DIR WORDS...\n');
  process.exit(2);
}

const env = {};
for (const [k, v] of Object.entries(process.env)) {
  if (k.startsWith('TENURE_')) env[k] = v;
}

const wasi = new WASI({
  version: 'preview1',
  args: ['tenure', ...words],
  env,
  preopens: { '/state': stateDir },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
