// Runs one test suite with Node's built-in runner on the compiled tests in dist/.
//   node dist/scripts/test.js unit      every test/**/*.test.ts except interop/ and crash/
//   node dist/scripts/test.js interop   test/interop/ (real third-party clients)
//   node dist/scripts/test.js crash     test/crash/ (kill -9, torn tails); `--cycles N` for long runs
// Extra arguments are passed to `node --test` (e.g. --test-name-pattern=crc).
import { spawnSync } from 'node:child_process';
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
  extra.splice(cyclesAt, 2);
}
const testRoot = join(dirname(fileURLToPath(import.meta.url)), '..', 'test');
const slowSuites = new Set(['interop', 'crash']);

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
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...extra, ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
