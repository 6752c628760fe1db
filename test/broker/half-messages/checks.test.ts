// Check-back: a half message left undecided gets check requests in `__sluice_check.<group>` after
// `transaction.check.delay.ms`, then with backoff; a checker that answers decides it; with no answer
// (or "unknown") it is abandoned after exactly `transaction.check.max` checks and copied to
// `__sluice_half_abandoned` with its headers. Malformed half messages are abandoned at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ReadRecord } from '../../support/read-partition.js';
import type { TestBroker } from '../../support/test-broker.js';
import { ChannelProducer, opsOf, read, sleep, startHalfBroker, waitFor } from './channel.js';

let server: TestBroker;
let producer: ChannelProducer;

// Checks 400 ms after the half message, then 400, 800 and 800 ms apart: room for the test's checker
// (which polls) to answer before the next one on a busy machine.
const CHECK_DELAY_MS = 400;

before(async () => {
  server = await startHalfBroker({
    properties: {
      'transaction.check.delay.ms': String(CHECK_DELAY_MS),
      'sluice.transaction.check.backoff.max.ms': String(2 * CHECK_DELAY_MS),
    },
  });
  for (const topic of ['checked', 'silent']) await server.broker.createTopic(topic, 1, {});
  producer = await ChannelProducer.connect(server);
});
after(async () => {
  await producer.close();
  await server.close();
});

/** Check requests for one half id, read from the group's check topic. */
async function checksFor(group: string, id: string): Promise<ReadRecord[]> {
  return (await read(server, `__sluice_check.${group}`)).filter((r) => r.headers['sluice.half.id'] === id);
}

async function abandonedCopies(id: string): Promise<ReadRecord[]> {
  return (await read(server, '__sluice_half_abandoned')).filter((r) => r.headers['sluice.half.id'] === id);
}

/**
 * A producer instance's checker: consumes the group's check topic and answers each request with
 * `answer(request)` (null: no answer). Runs until stopped.
 */
function runChecker(
  group: string,
  answer: (request: ReadRecord) => string | null,
): { answered: ReadRecord[]; stop(): Promise<void> } {
  const answered: ReadRecord[] = [];
  let stopped = false;
  let next = 0;
  const loop = (async () => {
    while (!stopped) {
      const records = (await read(server, `__sluice_check.${group}`)).filter((r) => r.offset >= next);
      for (const request of records) {
        next = request.offset + 1;
        const op = answer(request);
        answered.push(request);
        if (op !== null) await producer.op(request.headers['sluice.half.id']!, { op });
      }
      await sleep(50);
    }
  })();
  return {
    answered,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

test('an undecided half message is checked after the delay; the checker answers commit', async () => {
  const checker = runChecker('checked-commit', (request) => (request.value === 'please commit' ? 'commit' : null));
  try {
    const sentAt = Date.now();
    const id = await producer.sendHalf({
      topic: 'checked',
      partition: 0,
      group: 'checked-commit',
      key: 'k1',
      value: 'please commit',
      headers: { app: 'x' },
    });
    await waitFor('the committed message', async () =>
      (await read(server, 'checked')).some((r) => r.value === 'please commit'),
    );
    assert.ok(Date.now() - sentAt >= CHECK_DELAY_MS, 'not before transaction.check.delay.ms');
    const [request] = checker.answered.filter((r) => r.headers['sluice.half.id'] === id);
    assert.ok(request, 'a check request arrived');
    assert.equal(request.key, 'k1');
    assert.equal(request.value, 'please commit');
    assert.equal(request.headers['sluice.half.check'], '1');
    assert.equal(request.headers['app'], 'x');
    assert.equal(request.headers['sluice.half.topic'], 'checked');
    assert.equal(request.headers['sluice.half.group'], 'checked-commit');
    const ops = (await opsOf(server, id)).map((op) => op['op']);
    assert.equal(ops[0], 'check');
    assert.deepEqual(
      ops.filter((op) => op !== 'check'),
      ['commit', 'moving', 'moved'],
    );
    await sleep(500);
    assert.equal((await read(server, 'checked')).filter((r) => r.value === 'please commit').length, 1, 'exactly once');
  } finally {
    await checker.stop();
  }
});

test('the checker answers rollback: never in the target, no more checks', async () => {
  const checker = runChecker('checked-rollback', () => 'rollback');
  try {
    const id = await producer.sendHalf({
      topic: 'checked',
      partition: 0,
      group: 'checked-rollback',
      value: 'please drop',
    });
    await waitFor(
      'the rollback',
      () => checker.answered.length > 0 && server.broker.halfMessages.checksOf(id) === undefined,
    );
    const checksAtRollback = (await checksFor('checked-rollback', id)).length;
    assert.ok(checksAtRollback >= 1);
    await sleep(1000);
    assert.equal((await checksFor('checked-rollback', id)).length, checksAtRollback, 'no check after the rollback');
    assert.ok(!(await read(server, 'checked')).some((r) => r.value === 'please drop'));
    assert.deepEqual(await abandonedCopies(id), []);
  } finally {
    await checker.stop();
  }
});

test('"unknown" answers: exactly transaction.check.max checks with backoff, then abandoned with headers', async () => {
  const checker = runChecker('checked-unknown', () => 'unknown');
  try {
    const sentAt = Date.now();
    const id = await producer.sendHalf({
      topic: 'silent',
      partition: 0,
      group: 'checked-unknown',
      key: 'k',
      value: 'undecided',
      headers: { app: 'y' },
    });
    await waitFor('the abandoned copy', async () => (await abandonedCopies(id)).length > 0);
    // The delay to the first check, then waits of delay, 2 × delay and 2 × delay (capped) after checks 1, 2 and 3.
    assert.ok(Date.now() - sentAt >= 6 * CHECK_DELAY_MS - 50, `abandoned after ${Date.now() - sentAt} ms`);
    await sleep(800);
    const requests = await checksFor('checked-unknown', id);
    assert.deepEqual(
      requests.map((r) => r.headers['sluice.half.check']),
      ['1', '2', '3'],
    );
    const [copy, ...more] = await abandonedCopies(id);
    assert.equal(more.length, 0);
    assert.equal(copy!.key, 'k');
    assert.equal(copy!.value, 'undecided');
    assert.equal(copy!.headers['app'], 'y');
    assert.equal(copy!.headers['sluice.half.topic'], 'silent');
    assert.equal(copy!.headers['sluice.half.checks'], '3');
    assert.match(copy!.headers['sluice.half.reason']!, /no decision after 3 checks/);
    const ops = (await opsOf(server, id)).map((op) => op['op']);
    assert.deepEqual(
      ops.filter((op) => op !== 'unknown'),
      ['check', 'check', 'check', 'abandoned'],
    );
    assert.equal(ops.filter((op) => op === 'unknown').length, 3, 'each check answered "unknown"');
    assert.deepEqual(await read(server, 'silent'), []);
    assert.ok(
      server.logger.lines.some(
        (line) => line.level === 'warn' && line.message === 'half message abandoned' && line.fields['id'] === id,
      ),
    );

    // A decision after the abandonment changes nothing.
    await producer.commit(id);
    await sleep(400);
    assert.deepEqual(await read(server, 'silent'), []);
  } finally {
    await checker.stop();
  }
});

test('no checker at all: the check topic is created on the first check; abandoned after three', async () => {
  const id = await producer.sendHalf({ topic: 'silent', partition: 0, group: 'nobody-home', value: 'lonely' });
  assert.equal(server.broker.topics.get('__sluice_check.nobody-home'), undefined, 'not before the first check');
  await waitFor('the abandoned copy', async () => (await abandonedCopies(id)).length > 0);
  assert.equal(server.broker.topics.get('__sluice_check.nobody-home')?.partitions, 1);
  assert.equal((await checksFor('nobody-home', id)).length, 3);
});

test('malformed half messages are abandoned at once, with the reason', async () => {
  const cases: Array<{ headers: Record<string, string>; reason: RegExp }> = [
    { headers: {}, reason: /no sluice\.half\.topic header/ },
    {
      headers: { 'sluice.half.topic': 'silent', 'sluice.half.group': 'g' },
      reason: /no sluice\.half\.partition header/,
    },
    {
      headers: { 'sluice.half.topic': 'silent', 'sluice.half.partition': '0' },
      reason: /no sluice\.half\.group header/,
    },
    {
      headers: { 'sluice.half.topic': 'silent', 'sluice.half.partition': 'zero', 'sluice.half.group': 'g' },
      reason: /not a partition number/,
    },
    {
      headers: { 'sluice.half.topic': 'silent', 'sluice.half.partition': '7', 'sluice.half.group': 'g' },
      reason: /partition 7 does not exist/,
    },
    {
      headers: { 'sluice.half.topic': 'no-such-topic', 'sluice.half.partition': '0', 'sluice.half.group': 'g' },
      reason: /no-such-topic does not exist/,
    },
    {
      headers: { 'sluice.half.topic': 'silent', 'sluice.half.partition': '0', 'sluice.half.group': 'bad group!' },
      reason: /not a producer group name/,
    },
    {
      headers: { 'sluice.half.topic': '__consumer_offsets', 'sluice.half.partition': '0', 'sluice.half.group': 'g' },
      reason: /internal/,
    },
  ];
  const ids: string[] = [];
  for (const { headers } of cases) ids.push(await producer.sendRaw(1, { value: 'bad', headers }));
  const startedAt = Date.now();
  await waitFor('every malformed message abandoned', async () =>
    (await Promise.all(ids.map(abandonedCopies))).every((copies) => copies.length > 0),
  );
  assert.ok(Date.now() - startedAt < 1000, 'at once, not after the checks');
  for (const [i, id] of ids.entries()) {
    const [copy] = await abandonedCopies(id);
    assert.match(copy!.headers['sluice.half.reason']!, cases[i]!.reason, `case ${i}`);
    assert.equal(copy!.headers['sluice.half.checks'], '0');
    assert.equal(server.broker.halfMessages.checksOf(id), undefined);
    assert.equal((await opsOf(server, id)).at(-1)!['op'], 'abandoned');
  }
  // A commit for a malformed message does not resurrect it.
  await producer.commit(ids[0]!);
  await sleep(300);
  assert.equal((await abandonedCopies(ids[0]!)).length, 1);
});
