// Module resolve hook of the worker (models/npm/worker.mjs). The package's module-level state is its
// created-files and created-directories caches (keyed by absolute path: every execution has a data
// directory of its own, so an earlier execution's entries never match) and its monotonic ULID factories
// (the temp-file names of dist/fs.js, the ids of dist/storage/helpers.js), whose last timestamp and
// random part carry over. Their `import { monotonicFactory } from 'ulid'` is answered by ulid-shim.mjs,
// whose factories the worker starts afresh at every reset, so a reused worker mints exactly what a new
// one would.
let packageRoot = null;
let shim = null;

export async function initialize(data) {
  packageRoot = data.packageRoot;
  shim = data.shim;
}

export async function resolve(specifier, context, nextResolve) {
  const out = await nextResolve(specifier, context);
  const parent = context.parentURL;
  if (specifier === 'ulid' && parent && packageRoot && parent.startsWith(packageRoot)) {
    return { ...out, url: `${shim}?real=${encodeURIComponent(out.url)}` };
  }
  return out;
}
