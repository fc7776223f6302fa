// One simulated process of sim's real-code world (models/npm/world.py): the released @workflow/world-local
// installed in INSTALL_DIR, its storage reached through dist/storage.js by path (the export map does not
// expose createStorage), every fs.promises call it makes gated.
//
//   node worker.mjs INSTALL_DIR
//
// Protocol: one JSON object per line each way. The driver sends a command; the worker runs until idle (no
// gated operation can progress without a reply) and answers with exactly one line
//   {"pending": [{"op", "call", "kind", "path", "path2"?}, ...], "done": [{"call", "ok", "value" | "error"}, ...]}
// `pending` lists every gated operation waiting now (oldest first), `done` the calls that ended since the
// last answer, `clock` (when any) the calls that read the time since then (0: code outside any call). Commands (each may carry "now", the virtual clock in ms since the Unix epoch):
//   {"cmd": "reset", "dir": D, "seed": S, "tempSeed": T, "tempTime": MS}
//                                           a new simulated process: createStorage(D) over a data directory
//                                           no earlier reset used, the ULID factories restarted (loader.mjs),
//                                           Math.random seeded by S, temporary-file names drawn from T at MS
//                                           (ulid-shim.mjs)
//   {"cmd": "call", "call": K, "method": "events.create", "args": [...]}
//   {"cmd": "go", "op": N}                  run gated operation N (synchronously: no real I/O is in flight
//                                           when the worker answers)
//   {"cmd": "fail", "op": N, "errno": "EIO"}  reject it with that error instead
// The first line the worker prints is {"ready": true, "node": VERSION, "package": NAME, "version": V}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AsyncLocalStorage } from 'node:async_hooks';
import { register, syncBuiltinESMExports } from 'node:module';
import { pathToFileURL } from 'node:url';
import { out, quietConsole, installClock, setClock, sfc32, startCall as sharedStartCall, serve } from './sim-env.mjs';

quietConsole();
Math.random = sfc32(0);
let tempRandom = sfc32(0);   // temporary-file names (ulid-shim.mjs): a stream of their own per incarnation
globalThis.__simTempRandom = () => tempRandom();
globalThis.__simTempTime = 0;

const installDir = path.resolve(process.argv[2] ?? '.');
const pkgDir = path.join(installDir, 'node_modules', '@workflow', 'world-local');
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
register(new URL('./loader.mjs', import.meta.url), {
  parentURL: import.meta.url,
  data: { packageRoot: pathToFileURL(pkgDir).href + '/', shim: new URL('./ulid-shim.mjs', import.meta.url).href },
});

// ---- the gate -------------------------------------------------------------------------------------------
const calls = new AsyncLocalStorage();   // which driver call an operation belongs to
let basedir = '/';
let pending = new Map();                 // op id -> {kind, path, path2, call, run, resolve, reject}
let nextOp = 0;
let done = [];

let epoch = 0;                           // bumped by every reset: a gate of an earlier execution never parks
// which driver calls read the time since the last reply (0: outside any call): the driver orders such a
// step by the clock, and checks that it declared so (models.npm.world.NpmData.tick)
let clockReaders = new Set();
installClock(() => { const s = calls.getStore(); clockReaders.add(s === undefined || s.epoch !== epoch ? 0 : s.call); });
const rel = (p) => (typeof p === 'string' || p instanceof URL) ? path.relative(basedir, String(p)) : String(p);
const nameOf = (x) => typeof x === 'string' ? x : x.name;
const sortNames = (names) => names.slice().sort((x, y) => {
  const a = nameOf(x), b = nameOf(y);
  return a < b ? -1 : a > b ? 1 : 0;
});
// world-local's temporary files (`NAME.tmp.ULID`, fs.js write/writeExclusive). Every listing of every
// pinned version filters by a suffix (`.json`, `.TAG.json`, an extension) that such a name never has, so
// readdir leaves them out: what the package sees is unchanged, and a temporary file's creation or removal
// then changes no listing (models.npm.world.footprint)
const TEMP = /\.tmp\.[0-9A-HJKMNP-TV-Z]{26}$/;
const listing = (names) => sortNames(names).filter((x) => !TEMP.test(nameOf(x)));

function fileHandle(fd) {
  // world-local opens a file only to read its first byte (readFirstByte): the open is the gated step; the
  // read through the descriptor sees the inode opened (files are published whole), the close is local
  return {
    fd,
    async read(buffer, offset, length, position) {
      return { bytesRead: fs.readSync(fd, buffer, offset, length, position), buffer };
    },
    async readFile(opts) { return fs.readFileSync(fd, opts); },
    async close() { fs.closeSync(fd); },
  };
}

// fs.promises name -> how to run it synchronously once released (and the paths it names)
const OPS = {
  readFile: (p, o) => fs.readFileSync(p, o),
  writeFile: (p, d, o) => fs.writeFileSync(p, d, o),
  appendFile: (p, d, o) => fs.appendFileSync(p, d, o),
  rename: (a, b) => fs.renameSync(a, b),
  link: (a, b) => fs.linkSync(a, b),
  copyFile: (a, b, m) => fs.copyFileSync(a, b, m),
  unlink: (p) => fs.unlinkSync(p),
  rm: (p, o) => fs.rmSync(p, o),
  rmdir: (p, o) => fs.rmdirSync(p, o),
  mkdir: (p, o) => fs.mkdirSync(p, o),
  readdir: (p, o) => listing(fs.readdirSync(p, o)),
  stat: (p, o) => fs.statSync(p, o),
  lstat: (p, o) => fs.lstatSync(p, o),
  access: (p, m) => { fs.accessSync(p, m); },
  open: (p, f, m) => fileHandle(fs.openSync(p, f, m)),
  truncate: (p, l) => fs.truncateSync(p, l),
  utimes: (p, a, m) => fs.utimesSync(p, a, m),
};
const TWO_PATHS = new Set(['rename', 'link', 'copyFile']);

const promises = fs.promises;
for (const [kind, run] of Object.entries(OPS)) {
  const original = promises[kind];
  promises[kind] = function gated(...args) {
    const store = calls.getStore();
    if (store === undefined) return original.apply(this, args);   // module loading, outside any call
    // a call of a crashed incarnation (its worker reused after a reset) never runs another operation
    if (store.epoch !== epoch) return new Promise(() => {});
    const op = ++nextOp;
    return new Promise((resolve, reject) => {
      pending.set(op, {
        kind, call: store.call, path: rel(args[0]), path2: TWO_PATHS.has(kind) ? rel(args[1]) : undefined,
        recursive: kind === 'mkdir' || kind === 'rm' ? Boolean(args[1]?.recursive) : undefined,
        run: () => run(...args), resolve, reject,
      });
    });
  };
}
syncBuiltinESMExports();   // `import { rm } from 'node:fs/promises'` sees the gated functions too

function injected(errno, kind, p) {
  const e = new Error(`${errno}: injected by sim, ${kind} '${p}'`);
  e.code = errno;
  e.errno = -(os.constants.errno[errno] ?? 5);
  e.syscall = kind;
  e.path = p;
  return e;
}

// ---- calls -----------------------------------------------------------------------------------------------
let storage = null;
let createStorage = null;

function startCall(id, method, args) {
  const mine = epoch;
  sharedStartCall(storage, { run: (call, fn) => calls.run({ call, epoch: mine }, fn) },
                  (r) => { if (mine === epoch) done.push(r); }, id, method, args);
}

async function untilIdle() {
  // every released operation ran synchronously, so what is left is promise continuations; two turns of
  // the check phase let them all settle (and any that reach a gate park there)
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

function reply() {
  const list = [...pending.entries()].map(([op, p]) => {
    const o = { op, call: p.call, kind: p.kind, path: p.path };
    if (p.path2 !== undefined) o.path2 = p.path2;
    if (p.recursive) o.recursive = true;
    return o;
  });
  const readers = [...clockReaders].sort((a, b) => a - b);
  clockReaders = new Set();
  out(readers.length ? { pending: list, done, clock: readers } : { pending: list, done });
  done = [];
}

async function handle(msg) {
  if (typeof msg.now === 'number') setClock(msg.now);
  switch (msg.cmd) {
    case 'reset': {
      pending = new Map();   // the previous incarnation's waiting operations are never released
      done = [];
      epoch++;
      basedir = msg.dir;
      Math.random = sfc32(msg.seed ?? 0);
      tempRandom = sfc32(msg.tempSeed ?? 0);
      globalThis.__simTempTime = msg.tempTime ?? 0;
      globalThis.__simUlidReset();   // the ULID factories start afresh (loader.mjs)
      storage = createStorage(msg.dir);
      break;
    }
    case 'call':
      startCall(msg.call, msg.method, msg.args ?? []);
      break;
    case 'go':
    case 'fail': {
      const p = pending.get(msg.op);
      if (!p) throw new Error(`no pending operation ${msg.op}`);
      pending.delete(msg.op);
      if (msg.cmd === 'fail') p.reject(injected(msg.errno ?? 'EIO', p.kind, p.path));
      else {
        let value, error = null;
        try { value = p.run(); } catch (e) { error = e; }
        if (error) p.reject(error); else p.resolve(value);
      }
      break;
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(msg.cmd)}`);
  }
  await untilIdle();
  reply();
}

// import the package before saying ready (a spare is warm when the driver takes it). The tracing wrapper
// imports @opentelemetry/api on its first call (real module loading, not a gated operation): let it
// settle now, outside any call, with a read of a directory that does not exist
({ createStorage } = await import(pathToFileURL(path.join(pkgDir, 'dist', 'storage.js')).href));
await createStorage(path.join(os.tmpdir(), 'sim-npm-absent')).runs.get('wrun_00000000000000000000000000').catch(() => null);
serve(pkg, handle);
