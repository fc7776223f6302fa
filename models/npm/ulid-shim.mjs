// `monotonicFactory` of the ulid package as the package under test sees it (loader.mjs): the same
// factory, restartable. globalThis.__simUlidReset() replaces every factory's state with a new one's.
const real = await import(new URL(import.meta.url).searchParams.get('real'));
const restarts = [];
globalThis.__simUlidReset = () => { for (const restart of restarts) restart(); };

export function monotonicFactory(prng) {
  let factory = real.monotonicFactory(prng);
  restarts.push(() => { factory = real.monotonicFactory(prng); });
  return (seedTime) => factory(seedTime);
}
