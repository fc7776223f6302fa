// `monotonicFactory` of the ulid package as the package under test sees it (loader.mjs): the same
// factory, restartable. globalThis.__simUlidReset() replaces every factory's state with a new one's.
//
// dist/fs.js's factory names temporary files (`NAME.tmp.ULID`). Those names only need to be unique: the
// package never reads one back by a listing (the worker's readdir leaves them out, as every listing of
// the package filters them) and each is touched by its own process only. So that minting one is not a
// reading of the shared clock (which would order it against every other process's id), that factory
// takes the worker's temporary-name time and random stream (__simTempTime, __simTempRandom: fixed per
// process incarnation, distinct between incarnations), not Date and Math.random.
const real = await import(new URL(import.meta.url).searchParams.get('real'));
const restarts = [];
globalThis.__simUlidReset = () => { for (const restart of restarts) restart(); };

export function monotonicFactory(prng) {
  const temp = /\/dist\/fs\.js:/.test(new Error().stack ?? '');
  const draw = temp ? () => globalThis.__simTempRandom() : prng;
  let factory = real.monotonicFactory(draw);
  restarts.push(() => { factory = real.monotonicFactory(draw); });
  return temp ? () => factory(globalThis.__simTempTime) : (seedTime) => factory(seedTime);
}
