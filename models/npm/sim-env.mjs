// What every real-code worker (worker.mjs, pgworker.mjs) sets up the same way: the protocol stream, the
// package's logging kept off it, the virtual clock behind Date, seeded randomness, errors as JSON.
import fs from 'node:fs';
import readline from 'node:readline';

export const out = (obj) => fs.writeSync(1, JSON.stringify(obj) + '\n');

export function quietConsole() {
  // the package's own logging must not reach the protocol stream
  for (const k of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
    console[k] = (...a) => process.stderr.write(a.map(String).join(' ') + '\n');
  }
}

let clock = 0;
let clockReads = 0;   // since the last takeClockReads(): did the step just run read the time (mint an id)?
let onRead = null;    // a worker's own record of who read the time (installClock's argument)
export const setClock = (ms) => { clock = ms; };
export const takeClockReads = () => { const n = clockReads; clockReads = 0; return n; };

// Date follows the driver's clock; `read()`, when given, is told of every reading (world-local's worker
// notes which call read the time)
export function installClock(read) {
  onRead = read ?? null;
  const RealDate = Date;
  const tick = () => { clockReads++; if (onRead) onRead(); return clock; };
  class SimDate extends RealDate {
    constructor(...a) { if (a.length === 0) super(tick()); else super(...a); }
    static now() { return tick(); }
  }
  globalThis.Date = SimDate;
}

export function sfc32(seed) {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b | 0) + d | 0;
    d = d + 1 | 0; a = b ^ b >>> 9; b = c + (c << 3) | 0; c = c << 21 | c >>> 11; c = c + t | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

export function errorOf(err) {
  const o = { name: err?.constructor?.name ?? 'Error', message: String(err?.message ?? err) };
  for (const k of ['status', 'retryAfter', 'code']) if (err && err[k] !== undefined) o[k] = err[k];
  return o;
}

// Start `storage[group][name](...args)` as driver call `id` (its gated operations carry the id through
// `calls`); `finish` gets the call's outcome, JSON-clean, when it settles.
export function startCall(storage, calls, finish, id, method, args) {
  const [group, name] = method.split('.');
  const fn = storage?.[group]?.[name];
  if (typeof fn !== 'function') {
    finish({ call: id, ok: false, error: { name: 'Error', message: `no storage method ${method}` } });
    return;
  }
  calls.run(id, () => {
    Promise.resolve().then(() => fn.apply(storage[group], args)).then(
      (value) => finish({ call: id, ok: true, value: value === undefined ? null : JSON.parse(JSON.stringify(value)) }),
      (err) => finish({ call: id, ok: false, error: errorOf(err) }),
    );
  });
}

// Say ready, then handle the driver's messages one at a time, in order (each is a JSON line on stdin); a
// handler's error is fatal: the driver sees it and the worker exits, rather than carrying on half-reset
export function serve(pkg, handle) {
  out({ ready: true, node: process.version, package: pkg.name, version: pkg.version });
  const rl = readline.createInterface({ input: process.stdin });
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    chain = chain.then(() => handle(JSON.parse(line))).catch((e) => {
      out({ fatal: String(e?.stack ?? e) });
      process.exit(2);
    });
  });
  rl.on('close', () => process.exit(0));
}
