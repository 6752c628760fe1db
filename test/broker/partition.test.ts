// The Partition (src/broker/partition/): it decides the high watermark from what storage has flushed,
// wakes parked fetches when that moves, retires when its topic goes, and runs the pipelines' hook points
// — each one at its place, with the right offsets, and a beforeAppend refusal keeps the batch out.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/generated/error-codes.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import type { HookedPartition } from '../../src/broker/partition/hooks.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let server: TestBroker;
before(async () => {
  server = await startTestBroker();
  await server.broker.createTopic('p', 2, {});
});
after(async () => server.close());
afterEach(() => {
  const hooks = server.broker.hooks;
  hooks.beforeAppend.length = 0;
  hooks.afterAppend.length = 0;
  hooks.afterHighWatermark.length = 0;
});

function batch(values: string[], producer?: { id: number; epoch: number; sequence: number }): Promise<Buffer> {
  return encodeRecordBatch({
    records: values.map((value) => ({ value: Buffer.from(value) })),
    ...(producer ? { producerId: producer.id, producerEpoch: producer.epoch, baseSequence: producer.sequence } : {}),
  });
}

test('a broker without features has no hook: each point costs a length check of an empty list', () => {
  assert.equal(server.broker.hooks.any, false);
});

test('the high watermark is what the flush policy made durable, and only moves forward', async () => {
  const partition = server.broker.partitions.get('p', 0)!;
  const before = partition.highWatermark;
  assert.equal(before, partition.log.flushedOffset, 'sync policy: committed = flushed');
  const appended = partition.append(await batch(['a', 'b', 'c']));
  assert.equal(partition.log.logEndOffset, before + 3, 'offsets assigned before append() returns');
  assert.equal(partition.highWatermark, before, 'not committed before its fsync');
  await appended;
  assert.equal(partition.highWatermark, before + 3);
  assert.equal(partition.lastStableOffset, before + 3, 'no transaction open: LSO = high watermark');
});

test('every hook point fires once per batch, in pipeline order, with the batch and its offsets', async () => {
  const seen: string[] = [];
  const where = (partition: HookedPartition) => `${partition.topic}-${partition.index}`;
  server.broker.hooks.beforeAppend.push((partition, header) => {
    seen.push(`before ${where(partition)} records=${header.recordCount}`);
    return null;
  });
  server.broker.hooks.afterAppend.push((partition, base, last) => {
    seen.push(`after ${where(partition)} ${base}..${last}`);
  });
  server.broker.hooks.afterHighWatermark.push((partition, highWatermark, previous) => {
    seen.push(`hw ${where(partition)} ${previous}->${highWatermark}`);
  });
  const start = server.broker.partitions.get('p', 1)!.logEndOffset;
  const result = await server.broker.produce('p', 1, await batch(['x', 'y']));
  assert.equal(result.errorCode, ErrorCode.NONE);
  assert.equal(result.baseOffset, start);
  assert.deepEqual(seen, [`before p-1 records=2`, `hw p-1 ${start}->${start + 2}`, `after p-1 ${start}..${start + 1}`]);
});

test('a beforeAppend refusal answers the producer with it and appends nothing', async () => {
  server.broker.hooks.beforeAppend.push((_, header) =>
    header.recordCount > 1 ? { errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: 'one record per batch' } : null,
  );
  const partition = server.broker.partitions.get('p', 0)!;
  const end = partition.logEndOffset;
  const refused = await server.broker.produce('p', 0, await batch(['1', '2']));
  assert.equal(refused.errorCode, ErrorCode.POLICY_VIOLATION);
  assert.equal(refused.errorMessage, 'one record per batch');
  assert.equal(partition.logEndOffset, end, 'nothing appended');
  const passed = await server.broker.produce('p', 0, await batch(['only']));
  assert.equal(passed.errorCode, ErrorCode.NONE);
  assert.equal(partition.logEndOffset, end + 1);
});

test('a refused idempotent batch does not advance its producer: the same sequence is accepted after', async () => {
  let refuse = true;
  server.broker.hooks.beforeAppend.push(() =>
    refuse ? { errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: 'not now' } : null,
  );
  const init = await server.broker.initProducerId(null, 60_000, -1, -1);
  const producer = { id: init.producerId, epoch: init.producerEpoch, sequence: 0 };
  assert.equal(
    (await server.broker.produce('p', 0, await batch(['i'], producer))).errorCode,
    ErrorCode.POLICY_VIOLATION,
  );
  refuse = false;
  const accepted = await server.broker.produce('p', 0, await batch(['i'], producer));
  assert.equal(accepted.errorCode, ErrorCode.NONE, 'sequence 0 again, not OUT_OF_ORDER_SEQUENCE_NUMBER');
  const duplicate = await server.broker.produce('p', 0, await batch(['i'], producer));
  assert.equal(duplicate.errorCode, ErrorCode.NONE);
  assert.equal(duplicate.baseOffset, accepted.baseOffset, 'the retry is answered with the original offset');
});

test("the broker's own appends (transaction markers) move the high watermark, seen by afterHighWatermark", async () => {
  const moves: number[] = [];
  server.broker.hooks.afterHighWatermark.push((partition, highWatermark) => {
    if (partition.topic === 'p' && partition.index === 1) moves.push(highWatermark);
  });
  const before = server.broker.hooks.beforeAppend.length;
  const partition = server.broker.partitions.get('p', 1)!;
  const end = partition.logEndOffset;
  await server.broker.writeTransactionMarker('p', 1, 424242, 0, false);
  assert.deepEqual(moves, [end + 1]);
  assert.equal(server.broker.hooks.beforeAppend.length, before);
});

test('a parked fetch wakes when the high watermark moves, and a retired partition wakes it at once', async () => {
  const partition = server.broker.partitions.get('p', 0)!;
  let wakes = 0;
  const waiter = { wake: () => (wakes += 1) };
  partition.park(waiter);
  assert.equal(partition.parkedCount, 1);
  await partition.append(await batch(['w']));
  assert.equal(wakes, 1);
  partition.unpark(waiter);
  await partition.append(await batch(['w2']));
  assert.equal(wakes, 1, 'unparked: not woken again');

  await server.broker.createTopic('doomed', 1, {});
  const doomed = server.broker.partitions.get('doomed', 0)!;
  const waiting = doomed.committedThrough(doomed.highWatermark + 1); // nothing will ever be written
  doomed.park(waiter);
  assert.equal((await server.broker.deleteTopic('doomed')).errorCode, ErrorCode.NONE);
  assert.equal(doomed.retired, true);
  assert.equal(wakes, 2, 'the deletion woke the parked fetch');
  assert.equal((await waiting)?.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'a wait for offsets ends');
  doomed.park(waiter);
  assert.equal(wakes, 3, 'parking on a retired partition wakes at once');
});

test('DeleteRecords is bounded by the high watermark (the Partition), not by what storage has written', async () => {
  const partition = server.broker.partitions.get('p', 1)!;
  const highWatermark = partition.highWatermark;
  const above = await server.broker.deleteRecords('p', 1, highWatermark + 1);
  assert.equal(above.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  const atHighWatermark = await server.broker.deleteRecords('p', 1, -1);
  assert.equal(atHighWatermark.errorCode, ErrorCode.NONE);
  assert.equal(atHighWatermark.lowWatermark, highWatermark);
  assert.equal(partition.logStartOffset, highWatermark);
});
