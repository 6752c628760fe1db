// Runs one test suite with Node's built-in runner on the compiled tests in dist/.
//   node dist/scripts/test.js unit      every test/**/*.test.ts except interop/ and crash/
//   node dist/scripts/test.js interop   test/interop/ (real third-party clients)
//   node dist/scripts/test.js crash     test/crash/ (kill -9, torn tails); `--cycles N` for long runs
//   node dist/scripts/test.js cluster   test/cluster/ (etcd and broker processes; `--cycles N` for the kill -9 loop)
//   node dist/scripts/test.js faults    test/faults/ (the fault bed: network namespaces; `--minutes N` of faults)
// Extra arguments are passed to `node --test` (e.g. --test-name-pattern=crc).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const suite = process.argv[2] ?? 'unit';
const extra = process.argv.slice(3);
// `--cycles N` (crash suite: how many kill -9 cycles) is ours, not node --test's: pass it on as
// the environment variables the crash tests read.
const cyclesAt = extra.indexOf('--cycles');
if (cyclesAt >= 0) {
  const cycles = extra[cyclesAt + 1];
  if (!cycles || !/^\d+$/.test(cycles)) {
    console.error('--cycles needs a number');
    process.exit(2);
  }
  process.env.SLUICE_CRASH_CYCLES = cycles;
  process.env.SLUICE_BROKER_CRASH_CYCLES = cycles;
  process.env.SLUICE_CLUSTER_CYCLES = cycles;
  extra.splice(cyclesAt, 2);
}
// `--minutes N` (fault bed: how long its schedule of faults runs), passed on the same way.
const minutesAt = extra.indexOf('--minutes');
if (minutesAt >= 0) {
  const minutes = extra[minutesAt + 1];
  if (!minutes || !/^\d+(\.\d+)?$/.test(minutes)) {
    console.error('--minutes needs a number');
    process.exit(2);
  }
  process.env.SLUICE_FAULT_MINUTES = minutes;
  extra.splice(minutesAt, 2);
}
const testRoot = join(dirname(fileURLToPath(import.meta.url)), '..', 'test');
const slowSuites = new Set(['interop', 'crash', 'cluster', 'faults']);

function listTests(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...listTests(path));
    else if (name.endsWith('.test.js')) found.push(path);
  }
  return found;
}

const files = listTests(testRoot)
  .filter((file) => {
    const top = relative(testRoot, file).split(sep)[0] ?? '';
    return suite === 'unit' ? !slowSuites.has(top) : top === suite;
  })
  .sort();
if (files.length === 0) {
  console.error(`no tests found for suite "${suite}" under ${testRoot}`);
  process.exit(1);
}
// Two guards so that CI ends with a verdict instead of its own timeout:
//   - a test that takes longer than its suite's limit fails (a test's own `timeout` option, where it
//     has one, wins);
//   - the runner exits when every test has ended even if a file leaked a handle (a kafkajs retry timer,
//     a child's pipe) that would otherwise keep that file's process, and with it the suite, alive for ever.
// And a wall-clock limit for the whole suite: past it the suite is stopped and reported as failed.
const faultMinutes = Number(process.env.SLUICE_FAULT_MINUTES ?? 4);
const perTestMs =
  { unit: 120_000, interop: 300_000, crash: 600_000, cluster: 900_000, faults: (faultMinutes + 10) * 60_000 }[suite] ??
  300_000;
const suiteMinutes = Number(
  process.env.SLUICE_SUITE_MINUTES ?? (suite === 'unit' ? 25 : suite === 'faults' ? faultMinutes + 15 : 20),
);
const args = ['--test', '--test-reporter=spec', `--test-timeout=${perTestMs}`, '--test-force-exit', ...extra, ...files];
// Its own process group, so that stopping it also stops the test files' processes and the brokers they spawned.
const runner = spawn(process.execPath, args, { stdio: 'inherit', detached: true });
const stopAll = (signal: NodeJS.Signals) => {
  try {
    process.kill(-runner.pid!, signal);
  } catch {
    // already gone
  }
};
const watchdog = setTimeout(() => {
  console.error(`suite "${suite}" still running after ${suiteMinutes} min (SLUICE_SUITE_MINUTES): stopped, failed`);
  stopAll('SIGKILL');
}, suiteMinutes * 60_000);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stopAll(signal));
runner.on('exit', (code, signal) => {
  clearTimeout(watchdog);
  stopAll('SIGKILL'); // whatever a test file left behind
  process.exit(signal === null ? (code ?? 1) : 1);
});
