// `monotonicFactory` of the ulid package as world-postgres sees it (loader.mjs): restartable like
// ulid-shim.mjs, and drawing from Math.random (seeded per process by the worker) when the package
// passes no generator (ulid would take node:crypto's, which no seed reaches).
const real = await import(new URL(import.meta.url).searchParams.get('real'));
const restarts = [];
globalThis.__simUlidReset = () => { for (const restart of restarts) restart(); };
export const { decodeTime, ulid } = real;

export function monotonicFactory(prng) {
  const draw = prng ?? (() => Math.random());
  let factory = real.monotonicFactory(draw);
  restarts.push(() => { factory = real.monotonicFactory(draw); });
  return (seedTime) => factory(seedTime);
}
