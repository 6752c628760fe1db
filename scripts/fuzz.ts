// The broker's front-door fuzzer (issue 13): random, truncated and mutated-valid frames of every API
// and version the broker advertises, at a live `sluice start` process, from several connections, while
// kcat and kafkajs producers and consumers run beside it — then checks that it is alive, bounded in
// memory, that the well-behaved clients saw no error, and that data written before the run is intact.
//
//   npm run fuzz -- --frames 1000000 --connections 8 --seed 42
//   npm run fuzz -- --duration 600 --connections 8          (frames without limit, for ten minutes)
//
//   --frames N        frames in all, spread over the connections (default 50 000)
//   --connections C   fuzzing connections, each with its own frame stream (default 8)
//   --seed S          the run's seed (default: random, printed first); a seed replays the same frames
//   --duration S      stop after S seconds even if frames are left
//   --rss-max-mib M   fail when the broker's VmRSS goes above M MiB (default 512, see below)
//   --override k=v    a broker setting (repeatable), as `sluice start --override`
//   --keep            keep the temp dir (data, logs) even when the run passes
//
// The RSS bound: an idle broker is ~80-100 MiB (Node, V8 heap, the internal topics' indexes). What a
// run adds is bounded by design: at most 64 requests in flight and 16 MiB of unsent responses per
// connection, a handful of connections, decompression capped at 64 MiB per batch and the fuzzer's
// frames at 64 KiB, topics and groups bounded by the fuzzer's vocabulary. 512 MiB leaves room for V8's
// lazy collection while still catching growth per frame: a leak of 1 KiB per frame passes 512 MiB
// before 500 000 frames.
//
// Lives in scripts/ beside the test runner; its parts are in test/fuzz/ because they are test code
// (they drive the broker through test/support/ and check it like a test does).
import { parseArgs } from 'node:util';
import { formatReport } from '../test/fuzz/report.js';
import { runFuzz } from '../test/fuzz/run.js';

function positiveInteger(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined) return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(value) || value < min) {
    console.error(`--${name} must be an integer of at least ${min}, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

const { values } = parseArgs({
  options: {
    frames: { type: 'string' },
    connections: { type: 'string' },
    seed: { type: 'string' },
    duration: { type: 'string' },
    'rss-max-mib': { type: 'string' },
    override: { type: 'string', multiple: true },
    keep: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  console.log('usage: npm run fuzz -- [--frames N] [--connections C] [--seed S] [--duration S] [--rss-max-mib M]');
  console.log('                       [--override name=value]... [--keep]');
  process.exit(0);
}

const durationSeconds = values.duration === undefined ? Infinity : positiveInteger('duration', values.duration, 0);
const frames =
  values.frames === undefined && durationSeconds !== Infinity
    ? Infinity
    : positiveInteger('frames', values.frames, 50_000);
const seed =
  values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positiveInteger('seed', values.seed, 0, 0) >>> 0;

console.log(`fuzz seed ${seed} (replay with --seed ${seed})`);
const result = await runFuzz({
  seed,
  frames,
  connections: positiveInteger('connections', values.connections, 8),
  durationMs: durationSeconds * 1000,
  rssMaxBytes: positiveInteger('rss-max-mib', values['rss-max-mib'], 512) * 1024 * 1024,
  overrides: values.override ?? [],
  keep: values.keep === true,
  log: (line) => console.log(line),
});
for (const line of formatReport(result)) console.log(line);
process.exit(result.checks.every((c) => c.ok) ? 0 : 1);
