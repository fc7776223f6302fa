// Module resolve hook of the worker (models/npm/worker.mjs): a module of the package under test that is
// imported by a module of generation N is itself imported as generation N (`?gen=N` on its URL), so each
// generation is a fresh instance of the package's module graph, with fresh module-level state (the
// created-files cache and the ULID factories of dist/fs.js and dist/storage/helpers.js). Modules outside
// the package (zod, ulid, @workflow/world, ...) are shared: they keep no state the storage depends on.
let packageRoot = null;

export async function initialize(data) {
  packageRoot = data.packageRoot;
}

export async function resolve(specifier, context, nextResolve) {
  const out = await nextResolve(specifier, context);
  const parent = context.parentURL;
  if (!parent || !packageRoot || !out.url.startsWith(packageRoot)) return out;
  const gen = new URL(parent).searchParams.get('gen');
  if (gen === null) return out;
  const url = new URL(out.url);
  url.searchParams.set('gen', gen);
  return { ...out, url: url.href };
}
