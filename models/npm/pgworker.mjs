// One simulated process of sim's real-code world-postgres (models/npm/pgworld.py): the released
// @workflow/world-postgres installed in INSTALL_DIR, its storage (dist/storage.js over the package's own
// drizzle client, dist/drizzle/index.js) on a pg.Pool, every statement it sends gated.
//
//   node pgworker.mjs INSTALL_DIR
//
// Only storage is loaded: the queue (dist/queue.js, graphile-worker and its background polling) is never
// imported, so no statement runs that sim did not release. The gate is pg.Client.prototype.query, the
// one function drizzle (and pg.Pool.query) sends every statement through: one gate per statement,
// BEGIN and COMMIT included.
//
// Protocol (as models/npm/worker.mjs): one JSON line each way; every command is answered once the worker
// has settled: no statement is in flight, or every one in flight waits for a lock (pg_blocking_pids on
// its backend, asked on the worker's own ungated monitor connection). The answer:
//   {"pending": [{"op", "call", "sql"}], "done": [{"call", "ok", "value" | "error"}],
//    "inflight": [{"op", "call", "pid", "blockers": [pid, ...]}], "pids": [backend pid, ...]}
// Commands (each may carry "now", the virtual clock in ms since the Unix epoch):
//   {"cmd": "reset", "db": {host, port, user, database}, "seed": S}   a new simulated process
//   {"cmd": "call", "call": K, "method": "events.create", "args": [...]}
//   {"cmd": "go", "op": N}          send statement N to the server, settle
//   {"cmd": "settle"}               settle again (another process's statement may have released a lock)
//   {"cmd": "drop"}                 close every connection (their open transactions roll back)
//   {"cmd": "snapshot"}             the committed tables, decoded by the package's schema (ungated)
//   {"cmd": "migrate", "db": {...}}  the package's migrations (its own drizzle migrator), ungated
import fs from 'node:fs';
import path from 'node:path';
import { createRequire, register } from 'node:module';
import { AsyncLocalStorage } from 'node:async_hooks';
import { pathToFileURL } from 'node:url';
import { out, quietConsole, installClock, setClock, sfc32, startCall as sharedStartCall, serve } from './sim-env.mjs';

quietConsole();
installClock();
Math.random = sfc32(0);

const installDir = path.resolve(process.argv[2] ?? '.');
const pkgDir = path.join(installDir, 'node_modules', '@workflow', 'world-postgres');
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
register(new URL('./loader.mjs', import.meta.url), {
  parentURL: import.meta.url,
  data: { packageRoot: pathToFileURL(pkgDir).href + '/', shim: new URL('./ulid-seeded-shim.mjs', import.meta.url).href },
});
const requirePkg = createRequire(path.join(pkgDir, 'package.json'));
const pg = requirePkg('pg');

// ---- the gate ------------------------------------------------------------------------------------------
const calls = new AsyncLocalStorage();
let pending = new Map();    // op -> {call, sql, client, args, resolve, reject}
let inflight = new Map();   // op -> {call, client}
let nextOp = 0;
let done = [];
let clients = new Set();    // every client the current pool made (their backend pids; dropped at reset)
let connecting = 0;

const Client = pg.Client;
const realQuery = Client.prototype.query;
const realConnect = Client.prototype.connect;
const sqlOf = (a) => String(typeof a === 'string' ? a : a?.text ?? '?');

Client.prototype.connect = function (cb) {
  if (this.__simMonitor) return realConnect.call(this, cb);
  clients.add(this);
  connecting++;
  const settled = () => { connecting--; moved(); };
  if (typeof cb === 'function') return realConnect.call(this, (err, ...r) => { settled(); cb(err, ...r); });
  return realConnect.call(this).then((v) => { settled(); return v; }, (e) => { settled(); throw e; });
};

Client.prototype.query = function gatedQuery(...args) {
  const call = calls.getStore();
  if (call === undefined || this.__simMonitor) return realQuery.apply(this, args);
  const op = ++nextOp;
  const cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
  const client = this;
  const p = new Promise((resolve, reject) => {
    pending.set(op, { call, sql: sqlOf(args[0]), client, args, resolve, reject });
  });
  if (cb) { p.then((r) => cb(null, r), (e) => cb(e)); return undefined; }
  return p;
};

function release(op) {
  const p = pending.get(op);
  if (!p) throw new Error(`no pending statement ${op}`);
  pending.delete(op);
  inflight.set(op, { call: p.call, client: p.client });
  realQuery.apply(p.client, p.args).then(
    (r) => { inflight.delete(op); p.resolve(r); moved(); },
    (e) => { inflight.delete(op); p.reject(e); moved(); });
}

// settle() sleeps until a statement answers or a connection opens, or its time slice passes
let wake = null;
function moved() { if (wake) { const w = wake; wake = null; w(); } }
const nap = (ms) => new Promise((r) => { const t = setTimeout(() => { wake = null; r(); }, ms); wake = () => { clearTimeout(t); r(); }; });

// ---- settling --------------------------------------------------------------------------------------------
let monitor = null;
let dbConfig = null;

async function openMonitor() {
  if (monitor) { monitor.removeAllListeners('error'); monitor.on('error', () => {}); monitor.end().catch(() => {}); }
  monitor = new Client(dbConfig);
  monitor.__simMonitor = true;
  monitor.on('error', () => {});
  await monitor.connect();
}

const turns = async (n) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

async function settle() {
  // run until idle: no connection being opened, and every statement sent has either answered (its
  // continuations ran up to the next gate) or waits for a lock a settled process holds
  const deadline = performance.now() + 10000;
  let slice = 2;
  for (let round = 0; ; round++) {
    await turns(3);
    if (connecting === 0 && inflight.size === 0) return [];
    if (connecting === 0 && round > 0) {   // a statement that answers at once costs no monitor query
      const ops = [...inflight.entries()];
      const pids = ops.map(([, f]) => f.client.processID);
      const r = await monitor.query('SELECT pid, pg_blocking_pids(pid) AS b FROM unnest($1::int[]) AS pid', [pids]);
      const by = new Map(r.rows.map((row) => [row.pid, row.b]));
      // re-check: the statement may have answered while the monitor asked
      await turns(3);
      if (inflight.size === ops.length && ops.every(([op, f]) => inflight.has(op) && (by.get(f.client.processID) ?? []).length)) {
        return ops.map(([op, f]) => ({ op, call: f.call, pid: f.client.processID, blockers: by.get(f.client.processID).slice().sort((a, b) => a - b) }));
      }
    }
    if (performance.now() > deadline) throw new Error('statements neither answered nor waited for a lock within 10 s');
    await nap(slice);
    slice = Math.min(slice * 2, 20);
  }
}

async function reply() {
  const blocked = await settle();
  out({
    pending: [...pending.entries()].map(([op, p]) => ({ op, call: p.call, sql: p.sql })),
    done, inflight: blocked,
    pids: [...clients].map((c) => c.processID).filter((x) => x !== undefined).sort((a, b) => a - b),
  });
  done = [];
}

// ---- storage -------------------------------------------------------------------------------------------
const { createClient, Schema } = await import(pathToFileURL(path.join(pkgDir, 'dist', 'drizzle', 'index.js')).href);
const st = await import(pathToFileURL(path.join(pkgDir, 'dist', 'storage.js')).href);
let pool = null;
let db = null;
let storage = null;

function drop() {
  for (const c of clients) {
    c.removeAllListeners('error');
    c.on('error', () => {});
    c.connection?.stream?.destroy();
  }
  clients = new Set();
  pending = new Map();   // the previous execution's statements are never sent
  inflight = new Map();
  connecting = 0;
  pool = null;
}

function startCall(id, method, args) {
  sharedStartCall(storage, calls, (r) => done.push(r), id, method, args);
}

async function snapshot() {
  // one transaction: the five tables as of one moment
  const rows = await db.transaction(async (tx) => {
    const q = (table, order) => tx.select().from(table).orderBy(order);
    return {
      runs: await q(Schema.runs, Schema.runs.runId),
      events: await q(Schema.events, Schema.events.eventId),
      steps: await q(Schema.steps, Schema.steps.stepId),
      hooks: await q(Schema.hooks, Schema.hooks.hookId),
      waits: await q(Schema.waits, Schema.waits.waitId),
    };
  }, { isolationLevel: 'repeatable read', accessMode: 'read only' });
  return JSON.parse(JSON.stringify(rows));
}

async function handle(msg) {
  if (typeof msg.now === 'number') setClock(msg.now);
  switch (msg.cmd) {
    case 'reset':
      drop();
      dbConfig = msg.db;
      await openMonitor();
      Math.random = sfc32(msg.seed ?? 0);
      globalThis.__simUlidReset();
      pool = new pg.Pool({ ...dbConfig, max: 10 });
      pool.on('error', () => {});   // an idle connection the driver terminated
      db = createClient(pool);
      storage = { runs: st.createRunsStorage(db), events: st.createEventsStorage(db),
                  hooks: st.createHooksStorage(db), steps: st.createStepsStorage(db) };
      break;
    case 'call': startCall(msg.call, msg.method, msg.args ?? []); break;
    case 'go': release(msg.op); break;
    case 'settle': break;
    case 'drop': drop(); break;
    case 'snapshot': out({ snapshot: await snapshot() }); return;
    case 'migrate': {
      const { migrate } = requirePkg('drizzle-orm/node-postgres/migrator');
      const { drizzle } = requirePkg('drizzle-orm/node-postgres');
      const c = new Client(msg.db);
      c.__simMonitor = true;
      await c.connect();
      await migrate(drizzle(c), { migrationsFolder: path.join(pkgDir, 'src', 'drizzle', 'migrations'),
                                  migrationsTable: 'workflow_migrations', migrationsSchema: 'workflow_drizzle' });
      await c.end();
      out({ migrated: true });
      return;
    }
    default: throw new Error(`unknown command ${JSON.stringify(msg.cmd)}`);
  }
  await reply();
}

serve(pkg, handle);
