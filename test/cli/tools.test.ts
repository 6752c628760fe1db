// The client tools end to end, as processes: topics, produce, consume, groups, with their error
// paths (unreachable broker, unknown topic, bad flags) and exit codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runKcat } from '../support/kcat.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

// Through the `sluice` command itself, as a user runs it.
const main = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
let broker: TestBroker;
before(async () => {
  broker = await startTestBroker({ properties: { 'group.initial.rebalance.delay.ms': '0' } });
});
after(async () => {
  await broker.close();
});

function sluice(
  args: string[],
  input = '',
  bootstrap: string | null = broker.bootstrap,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args, ...(bootstrap ? ['--bootstrap', bootstrap] : [])], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sluice ${args.join(' ')} timed out; ${err}`));
    }, 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
    child.stdin.end(input);
  });
}

test('topics create, list, describe, alter, delete', async () => {
  assert.equal(
    (await sluice(['topics', 'create', 'cli-topic', '--partitions', '3', '--config', 'retention.ms=60000'])).code,
    0,
  );
  const again = await sluice(['topics', 'create', 'cli-topic']);
  assert.equal(again.code, 1);
  assert.match(again.err, /^sluice topics: .*TOPIC_ALREADY_EXISTS/);
  assert.equal(again.err.trim().split('\n').length, 1, 'one line, no stack');
  assert.match((await sluice(['topics', 'list'])).out, /^cli-topic$/m);
  const described = await sluice(['topics', 'describe', 'cli-topic']);
  assert.match(described.out, /partitions 3/);
  assert.match(described.out, /config retention.ms=60000/);
  assert.equal(
    (await sluice(['topics', 'alter', 'cli-topic', '--partitions', '4', '--config', 'retention.ms=120000'])).code,
    0,
  );
  assert.match((await sluice(['topics', 'describe', 'cli-topic'])).out, /partitions 4[\s\S]*retention.ms=120000/);
  assert.equal((await sluice(['topics', 'delete', 'cli-topic'])).code, 0);
  // The broker may finish removing a deleted topic just after answering DeleteTopics.
  let missing = await sluice(['topics', 'describe', 'cli-topic']);
  for (let tries = 0; missing.code === 0 && tries < 20; tries++)
    missing = await sluice(['topics', 'describe', 'cli-topic']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /UNKNOWN_TOPIC_OR_PARTITION/);
  assert.match((await sluice(['topics', '--help'])).out, /Usage: sluice topics/);
});

test('produce lines with keys and headers, consume them raw and as JSON', async () => {
  await sluice(['topics', 'create', 'cli-lines', '--partitions', '1']);
  const produced = await sluice(
    ['produce', 'cli-lines', '--key-separator', ':', '--header', 'source=cli'],
    'k1:first\nk2:second\nno key here\n',
  );
  assert.equal(produced.code, 0, produced.err);
  const raw = await sluice(['consume', 'cli-lines', '--from-beginning', '--max', '3']);
  assert.equal(raw.code, 0, raw.err);
  assert.deepEqual(raw.out.trim().split('\n'), ['first', 'second', 'no key here']);
  const json = await sluice([
    'consume',
    'cli-lines',
    '--partition',
    '0',
    '--offset',
    '1',
    '--format',
    'json',
    '--max',
    '1',
  ]);
  const message = JSON.parse(json.out);
  assert.deepEqual([message.key, message.value, message.offset, message.headers.source], ['k2', 'second', '1', 'cli']);
  // A group consumes from the beginning once, then has committed offsets.
  const grouped = await sluice(['consume', 'cli-lines', '--group', 'cli-group', '--from-beginning', '--max', '3']);
  assert.equal(grouped.out.trim().split('\n').length, 3);
  const idle = await sluice(['consume', 'cli-lines', '--group', 'cli-group', '--timeout-ms', '500']);
  assert.equal(idle.out, '');
  assert.match(idle.err, /consumed 0 messages/);
});

test('groups list, describe, reset-offsets (dry run, execute), delete', async () => {
  await sluice(['topics', 'create', 'cli-g', '--partitions', '1']);
  await sluice(['produce', 'cli-g'], 'a\nb\nc\nd\n');
  await sluice(['consume', 'cli-g', '--group', 'cli-g-group', '--from-beginning', '--max', '4']);
  assert.match((await sluice(['groups', 'list'])).out, /^cli-g-group\t/m);
  assert.match((await sluice(['groups', 'describe', 'cli-g-group'])).out, /cli-g\/0 {2}committed 4 {2}end 4 {2}lag 0/);
  const dry = await sluice(['groups', 'reset-offsets', 'cli-g-group', '--topic', 'cli-g', '--to-earliest']);
  assert.match(dry.out, /cli-g\/0 {2}4 -> 0[\s\S]*dry run/);
  assert.match((await sluice(['groups', 'describe', 'cli-g-group'])).out, /committed 4/);
  assert.equal(
    (await sluice(['groups', 'reset-offsets', 'cli-g-group', '--topic', 'cli-g', '--shift-by', '-2', '--execute']))
      .code,
    0,
  );
  assert.match((await sluice(['groups', 'describe', 'cli-g-group'])).out, /committed 2 {2}end 4 {2}lag 2/);
  assert.equal(
    (await sluice(['groups', 'reset-offsets', 'cli-g-group', '--topic', 'cli-g', '--by-duration', '1h', '--execute']))
      .code,
    0,
  );
  assert.match((await sluice(['groups', 'describe', 'cli-g-group'])).out, /committed 0/);
  const bad = await sluice(['groups', 'reset-offsets', 'cli-g-group', '--topic', 'cli-g']);
  assert.equal(bad.code, 2);
  assert.equal((await sluice(['groups', 'delete', 'cli-g-group'])).code, 0);
});

test('error paths: unreachable broker, unknown topic, bad flags', async () => {
  const unreachable = await sluice(['topics', 'list'], '', '127.0.0.1:1');
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.err, /^sluice topics: cannot connect to 127\.0\.0\.1:1/);
  const unknown = await sluice(['consume', 'no-such-topic', '--max', '1']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /UNKNOWN_TOPIC_OR_PARTITION/);
  const typo = await sluice(['consume', 'x', '--form', 'json']);
  assert.equal(typo.code, 2);
  assert.match(typo.err, /unknown option --form/);
  assert.equal((await sluice(['frobnicate'])).code, 2);
});

test("produce --key-separator '\\t' (backslash, t: as from a shell) sends keyed messages; kcat reads", async () => {
  // What the README shows: printf 'c1\torder-1\n' | sluice produce orders --key-separator '\t'
  const produced = await sluice(
    ['produce', 'cli-tab-keys', '--key-separator', '\\t'],
    'c1\torder-1\nc2\torder-2\nno-key-here\n',
  );
  assert.equal(produced.code, 0, produced.err);
  const read = await runKcat(broker.bootstrap, ['-C', '-t', 'cli-tab-keys', '-o', 'beginning', '-e', '-f', '%k|%s\\n']);
  assert.deepEqual(read.trim().split('\n'), ['c1|order-1', 'c2|order-2', '|no-key-here']);
  // A hex escape, and a separator of several characters.
  assert.equal((await sluice(['produce', 'cli-hex-keys', '--key-separator', '\\x3d>'], 'k=>v\n')).code, 0);
  const hex = await runKcat(broker.bootstrap, ['-C', '-t', 'cli-hex-keys', '-o', 'beginning', '-e', '-f', '%k|%s\\n']);
  assert.equal(hex.trim(), 'k|v');
  const newline = await sluice(['produce', 'cli-hex-keys', '--key-separator', '\\n'], 'x\n');
  assert.equal(newline.code, 2);
  assert.match(newline.err, /newline/);
});

test('bench produce, consume and e2e print throughput and latency', async () => {
  const produce = await sluice(['bench', 'produce', 'cli-bench', '--messages', '5000', '--size', '100']);
  assert.equal(produce.code, 0, produce.err);
  assert.match(produce.out, /produce: 5000 messages in [\d.]+ s — [\d,]+ msgs\/s, [\d.]+ MB\/s/);
  assert.match(produce.out, /latency ms: p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+ {2}max [\d.]+/);
  assert.match(produce.err, /\[#+\] 5000\/5000/);
  const consume = await sluice(['bench', 'consume', 'cli-bench', '--messages', '5000']);
  assert.equal(consume.code, 0, consume.err);
  assert.match(consume.out, /consume: 5000 messages/);
  const e2e = await sluice(['bench', 'e2e', 'cli-bench-e2e', '--messages', '500', '--rate', '2000']);
  assert.equal(e2e.code, 0, e2e.err);
  assert.match(e2e.out, /e2e: 500 messages[\s\S]*latency ms: p50/);
});
