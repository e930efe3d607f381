// A host of the Tenure validator reactor in Node.js, written against the
// reactor's ABI (DESIGN "Validator"; the Go host in wasm/ is another): load
// validator-reactor.wasm under Node's WASI with the state directory
// preopened as /state, call _initialize, check tenure_abi_version, then for
// each invocation write a JSON request into a buffer from tenure_alloc,
// call tenure_call, read the response it points at, and tenure_free the
// buffer.
//
//   node host.mjs validator-reactor.wasm STATE_DIR WORDS... [-- WORDS...]
//
// Each group of CLI words (status --json, check vpn, ...) is one call into
// the same instance, as a resident host would make them; the platform, the
// time and the version come from TENURE_PLATFORM, TENURE_NOW and
// TENURE_VERSION. Each call prints one line of JSON, the module's response
// ({exit, stdout, stderr}). Like the Go host, it runs only a pinned module:
// the SHA-256 in TENURE_MODULE_SHA256 or in validator-reactor.wasm.sha256
// beside it. A host must serialise writers on the state directory (the Go
// host takes an flock); this example makes one call at a time.
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { WASI } from 'node:wasi';
import process from 'node:process';

const ABI_VERSION = 1;

const [wasmPath, stateDir, ...rest] = process.argv.slice(2);
if (!wasmPath || !stateDir || rest.length === 0) {
  process.stderr.write('usage: node host.mjs validator-reactor.wasm STATE_DIR WORDS... [-- WORDS...]\n');
  process.exit(2);
}

const bytes = await readFile(wasmPath);
let pin = process.env.TENURE_MODULE_SHA256;
if (!pin) {
  try {
    pin = (await readFile(wasmPath + '.sha256', 'utf8')).trim();
  } catch {
    process.stderr.write(`host: refusing ${wasmPath}: it is not pinned; set TENURE_MODULE_SHA256 or keep the .sha256 file beside it\n`);
    process.exit(2);
  }
}
const sum = createHash('sha256').update(bytes).digest('hex');
if (sum !== pin) {
  process.stderr.write(`host: refusing ${wasmPath}: its SHA-256 is ${sum}, and it is pinned to ${pin}\n`);
  process.exit(2);
}

// The module reads no environment of its own: each request carries it.
const wasi = new WASI({ version: 'preview1', args: ['tenure'], env: {}, preopens: { '/state': stateDir }, returnOnExit: true });
const instance = await WebAssembly.instantiate(await WebAssembly.compile(bytes), wasi.getImportObject());
wasi.initialize(instance);
const abi = instance.exports;
if (abi.tenure_abi_version() !== ABI_VERSION) {
  process.stderr.write(`host: the module speaks ABI ${abi.tenure_abi_version()}, this host ${ABI_VERSION}\n`);
  process.exit(2);
}

const requestEnv = {};
for (const k of ['TENURE_NOW', 'TENURE_PLATFORM', 'TENURE_VERSION']) {
  if (process.env[k]) requestEnv[k] = process.env[k];
}

// call runs one invocation and returns the module's response.
function call(args) {
  const req = new TextEncoder().encode(JSON.stringify({ args, env: requestEnv }));
  const ptr = abi.tenure_alloc(req.length);
  if (ptr === 0) throw new Error(`the module could not allocate ${req.length} bytes`);
  new Uint8Array(abi.memory.buffer, ptr, req.length).set(req);
  const packed = BigInt.asUintN(64, abi.tenure_call(ptr, req.length));
  const at = Number(packed >> 32n);
  const len = Number(packed & 0xffffffffn);
  // The response is valid until the next call: decode it before freeing.
  const resp = JSON.parse(new TextDecoder().decode(new Uint8Array(abi.memory.buffer, at, len)));
  abi.tenure_free(ptr);
  return resp;
}

let words = [];
let exit = 0;
for (const w of [...rest, '--']) {
  if (w !== '--') {
    words.push(w);
    continue;
  }
  if (words.length) {
    const resp = call(words);
    process.stdout.write(JSON.stringify(resp) + '\n');
    exit = resp.exit;
  }
  words = [];
}
process.exitCode = exit;
