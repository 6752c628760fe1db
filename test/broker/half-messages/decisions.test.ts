// Half messages decided by their producer, over the wire: a commit puts the message in its target
// exactly once, with its key, value, timestamp and headers (sluice.half.* replaced by sluice.half.id),
// soon after the commit and never before; a rollback drops it; the first decision wins.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../src/protocol/generated/error-codes.js';
import { decodeRecordBatches } from '../../../src/protocol/record-batch/record-decoder.js';
import { encodeRecordBatchSync } from '../../../src/protocol/record-batch/record-encoder.js';
import type { TestBroker } from '../../support/test-broker.js';
import { ChannelProducer, opsOf, read, sleep, startHalfBroker, waitFor } from './channel.js';

let server: TestBroker;
let producer: ChannelProducer;

before(async () => {
  // Checks late enough that none happens during these tests.
  server = await startHalfBroker({ properties: { 'transaction.check.delay.ms': '60000' } });
  for (const topic of ['orders', 'dropped', 'first-wins', 'unknown-op', 'doomed'])
    await server.broker.createTopic(topic, 2, {});
  producer = await ChannelProducer.connect(server);
});
after(async () => {
  await producer.close();
  await server.close();
});

test('the broker creates the channel topics when it opens', () => {
  assert.equal(server.broker.topics.get('__sluice_half')?.partitions, 2);
  assert.equal(server.broker.topics.get('__sluice_half_op')?.partitions, 2);
  assert.equal(server.broker.topics.get('__sluice_half_abandoned')?.partitions, 1);
});

// All its fields: key, value, timestamp and headers.
test('commit: invisible while pending, then in the target exactly once with all its fields', async () => {
  const timestamp = Date.now() - 5000;
  const id = await producer.sendHalf(
    {
      topic: 'orders',
      partition: 1,
      group: 'order-service',
      key: 'order-1',
      value: '{"total":42}',
      timestamp,
      headers: { trace: 'abc' },
    },
    1,
  );
  assert.match(id, /^1:\d+$/);
  await waitFor('the half message to be pending', () => server.broker.halfMessages.checksOf(id) !== undefined);
  await sleep(300);
  assert.deepEqual(await read(server, 'orders', 1), [], 'nothing in the target before the commit');
  assert.deepEqual(await read(server, 'orders', 0), []);

  const committedAt = Date.now();
  await producer.commit(id);
  await waitFor('the committed message in orders-1', async () => (await read(server, 'orders', 1)).length > 0);
  const latencyMs = Date.now() - committedAt;
  assert.ok(latencyMs < 1000, `visible ${latencyMs} ms after the commit`);

  await sleep(300);
  const records = await read(server, 'orders', 1);
  assert.equal(records.length, 1, 'exactly once');
  assert.equal(records[0]!.key, 'order-1');
  assert.equal(records[0]!.value, '{"total":42}');
  assert.deepEqual(records[0]!.headers, { trace: 'abc', 'sluice.half.id': id });
  assert.deepEqual(await read(server, 'orders', 0), [], 'only in the partition the producer chose');
  const log = server.broker.partitions.get('orders', 1)!;
  const [batch] = await decodeRecordBatches((await log.read(0, 1 << 20)).records);
  assert.equal(batch!.records[0]!.timestamp, timestamp, 'the half message timestamp');

  const ops = await opsOf(server, id);
  assert.deepEqual(
    ops.map((op) => op['op']),
    ['commit', 'moving', 'moved'],
  );
  assert.equal(ops[2]!['offset'], records[0]!.offset);
  assert.equal(server.broker.halfMessages.checksOf(id), undefined, 'no longer pending');
});

test('rollback: the message never reaches the target', async () => {
  const id = await producer.sendHalf({ topic: 'dropped', partition: 0, group: 'g', value: 'never' });
  await producer.rollback(id);
  await waitFor('the rollback to be applied', () => server.broker.halfMessages.checksOf(id) === undefined);
  await sleep(300);
  assert.deepEqual(await read(server, 'dropped', 0), []);
  assert.deepEqual(
    (await opsOf(server, id)).map((op) => op['op']),
    ['rollback'],
  );
});

test('the first decision wins: commit then rollback commits, rollback then commit drops', async () => {
  const committed = await producer.sendHalf({ topic: 'first-wins', partition: 0, group: 'g', value: 'committed' });
  const dropped = await producer.sendHalf({ topic: 'first-wins', partition: 0, group: 'g', value: 'dropped' });
  // Each pair in one batch, so the broker reads both decisions before it acts on either.
  await producer.ops(committed, [{ op: 'commit' }, { op: 'rollback' }, { op: 'commit' }]);
  await producer.ops(dropped, [{ op: 'rollback' }, { op: 'commit' }]);
  await waitFor(
    'both decided',
    () =>
      server.broker.halfMessages.checksOf(committed) === undefined &&
      server.broker.halfMessages.checksOf(dropped) === undefined,
  );
  await sleep(300);
  const records = await read(server, 'first-wins', 0);
  assert.deepEqual(
    records.map((r) => r.value),
    ['committed'],
  );
});

test('"unknown", unreadable ops and decisions for unknown ids change nothing', async () => {
  const id = await producer.sendHalf({ topic: 'unknown-op', partition: 0, group: 'g', value: 'v' });
  await producer.op(id, { op: 'unknown' });
  await producer.op(id, 'not json');
  await producer.op(id, { op: 'teleport' });
  await producer.op('0:999999', { op: 'commit' });
  await producer.op('1:abc', { op: 'commit' });
  await sleep(300);
  assert.equal(server.broker.halfMessages.checksOf(id), 0, 'still pending');
  assert.deepEqual(await read(server, 'unknown-op', 0), []);
  await producer.commit(id);
  await waitFor('the commit', async () => (await read(server, 'unknown-op', 0)).length === 1);
});

test('client produce into other internal topics is still refused', async () => {
  const batch = encodeRecordBatchSync({ records: [{ value: Buffer.from('x') }] });
  assert.equal(
    (await server.broker.produce('__sluice_half_abandoned', 0, batch)).errorCode,
    ErrorCode.INVALID_TOPIC_EXCEPTION,
  );
  assert.equal(
    (await server.broker.produce('__sluice_half', 0, encodeRecordBatchSync({ records: [{ value: Buffer.from('x') }] })))
      .errorCode,
    ErrorCode.NONE,
  );
});

test('a commit whose target was deleted meanwhile is abandoned after its "moving", with the reason', async () => {
  const id = await producer.sendHalf({ topic: 'doomed', partition: 1, group: 'g', value: 'homeless' });
  await waitFor('the half message to be pending', () => server.broker.halfMessages.checksOf(id) !== undefined);
  await server.broker.deleteTopic('doomed');
  await producer.commit(id);
  await waitFor('the abandonment', async () =>
    (await read(server, '__sluice_half_abandoned')).some((r) => r.headers['sluice.half.id'] === id),
  );
  const copy = (await read(server, '__sluice_half_abandoned')).find((r) => r.headers['sluice.half.id'] === id)!;
  assert.match(copy.headers['sluice.half.reason']!, /target doomed-1 does not exist/);
  await waitFor('no longer pending', () => server.broker.halfMessages.checksOf(id) === undefined);
  assert.deepEqual(
    (await opsOf(server, id)).map((op) => op['op']),
    ['commit', 'moving', 'abandoned'],
  );
});
