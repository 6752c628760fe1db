// Runs benchmarks: `node dist/bench/run.js [name...] [--flag...]` (default: all, in registry order).
// Each entry loads a module exporting `run(): Promise<void>`, which prints its own figures
// next to the machine facts. To add a bench, add one line to `benches`.
const benches: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  crc32c: () => import('./crc32c.js'),
  broker: () => import('./broker.js'),
  storage: () => import('./storage.js'),
  client: () => import('./client.js'),
  cluster: () => import('./cluster.js'),
};

async function main(): Promise<void> {
  // Arguments starting with `--` are flags for the benches (e.g. `broker --quick`), which read process.argv.
  const requested = process.argv.slice(2).filter((argument) => !argument.startsWith('--'));
  const names = requested.length > 0 ? requested : Object.keys(benches);
  const unknown = names.filter((name) => !Object.hasOwn(benches, name));
  if (unknown.length > 0) {
    console.error(`unknown bench: ${unknown.join(', ')}; available: ${Object.keys(benches).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  for (const name of names) {
    console.log(`\n== ${name} ==`);
    const bench = await benches[name]!();
    await bench.run();
  }
}

await main();
