// Half messages across a broker restart: everything pending comes back from `__sluice_half` and
// `__sluice_half_op` (messages, their check counts), and a commit interrupted between `moving` and
// `moved` lands in its target exactly once — whether or not the append reached it before the crash.
// A crash is simulated by stopping the service, writing the op records it would have written, and
// reopening the data directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRecordBatchSync, type RecordToEncode } from '../../../src/protocol/record-batch/record-encoder.js';
import type { TestBroker } from '../../support/test-broker.js';
import { ChannelProducer, opsOf, read, restart, sleep, startHalfBroker, waitFor } from './channel.js';

async function appendDirectly(
  server: TestBroker,
  topic: string,
  partition: number,
  record: RecordToEncode,
): Promise<number> {
  const { baseOffset } = await server.broker.partitions
    .get(topic, partition)!
    .append(encodeRecordBatchSync({ records: [record] }));
  return baseOffset;
}

function op(id: string, value: object): RecordToEncode {
  return { key: Buffer.from(id), value: Buffer.from(JSON.stringify(value)) };
}

// Half messages decided before the restart stay decided.
test('pending half messages survive a restart invisible and are committed afterwards', async () => {
  let server = await startHalfBroker({ properties: { 'transaction.check.delay.ms': '60000' } });
  try {
    await server.broker.createTopic('kept', 1, {});
    let producer = await ChannelProducer.connect(server);
    const pending = await producer.sendHalf({ topic: 'kept', partition: 0, group: 'g', key: 'a', value: 'pending' }, 0);
    const other = await producer.sendHalf({ topic: 'kept', partition: 0, group: 'g', value: 'pending too' }, 1);
    const done = await producer.sendHalf({ topic: 'kept', partition: 0, group: 'g', value: 'done' }, 1);
    const dropped = await producer.sendHalf({ topic: 'kept', partition: 0, group: 'g', value: 'dropped' }, 1);
    await producer.commit(done);
    await producer.rollback(dropped);
    await waitFor('the commit', async () => (await read(server, 'kept')).length === 1);
    await producer.close();

    server = await restart(server, { 'transaction.check.delay.ms': '60000' });
    assert.equal(server.broker.halfMessages.pendingCount, 2);
    assert.equal(server.broker.halfMessages.checksOf(pending), 0);
    assert.equal(server.broker.halfMessages.checksOf(other), 0);
    await sleep(300);
    assert.deepEqual(
      (await read(server, 'kept')).map((r) => r.value),
      ['done'],
      'nothing appended again, nothing pending visible',
    );

    producer = await ChannelProducer.connect(server);
    await producer.commit(pending);
    await producer.rollback(other);
    await waitFor('the commit after the restart', async () => (await read(server, 'kept')).length === 2);
    const records = await read(server, 'kept');
    assert.deepEqual(
      records.map((r) => [r.key, r.value, r.headers['sluice.half.id']]),
      [
        [null, 'done', done],
        ['a', 'pending', pending],
      ],
    );
    assert.equal(server.broker.halfMessages.pendingCount, 0);
    await producer.close();
  } finally {
    await server.close();
  }
});

test('check counts survive a restart: checks go on from where they were, then abandoned after the last', async () => {
  // Checks 400 ms apart at first, so the restart surely falls between the first and the second.
  const slower = { 'transaction.check.delay.ms': '400', 'sluice.transaction.check.backoff.max.ms': '800' };
  let server = await startHalfBroker({ properties: slower });
  try {
    await server.broker.createTopic('checked-across', 1, {});
    const producer = await ChannelProducer.connect(server);
    const id = await producer.sendHalf({ topic: 'checked-across', partition: 0, group: 'restart-group', value: 'v' });
    await producer.close();
    await waitFor('the first check', () => server.broker.halfMessages.checksOf(id) === 1);
    server = await restart(server, slower);
    assert.equal(server.broker.halfMessages.checksOf(id), 1, 'the check count came back from the op records');
    await waitFor('the abandonment', async () =>
      (await read(server, '__sluice_half_abandoned')).some((r) => r.headers['sluice.half.id'] === id),
    );
    const requests = (await read(server, '__sluice_check.restart-group')).filter(
      (r) => r.headers['sluice.half.id'] === id,
    );
    assert.deepEqual(
      requests.map((r) => r.headers['sluice.half.check']),
      ['1', '2', '3'],
      'exactly transaction.check.max checks in all',
    );
    const [copy] = (await read(server, '__sluice_half_abandoned')).filter((r) => r.headers['sluice.half.id'] === id);
    assert.equal(copy!.headers['sluice.half.checks'], '3');
    await sleep(500);
    assert.deepEqual(
      (await opsOf(server, id)).map((o) => o['op']),
      ['check', 'check', 'check', 'abandoned'],
    );
  } finally {
    await server.close();
  }
});

for (const alreadyInTarget of [true, false]) {
  const where = alreadyInTarget ? 'already' : 'not yet';
  test(`a crash between "moving" and "moved", ${where} in the target: in it exactly once after restart`, async () => {
    let server = await startHalfBroker({ properties: { 'transaction.check.delay.ms': '60000' } });
    try {
      await server.broker.createTopic('moved-once', 1, {});
      const producer = await ChannelProducer.connect(server);
      // Something already in the target, so `moving.offset` is not 0.
      await appendDirectly(server, 'moved-once', 0, { value: Buffer.from('before') });
      server.broker.partitions.wake('moved-once', 0);
      const id = await producer.sendHalf(
        { topic: 'moved-once', partition: 0, group: 'g', key: 'k', value: 'the message', headers: { h: '1' } },
        1,
      );
      await waitFor('the half message', () => server.broker.halfMessages.checksOf(id) === 0);
      await producer.close();

      // The broker "crashes": its service stops; the records it had written before the crash are put in place.
      await server.broker.halfMessages.close();
      const target = server.broker.partitions.get('moved-once', 0)!;
      const movingFrom = target.logEndOffset;
      await appendDirectly(server, '__sluice_half_op', 1, op(id, { op: 'commit' }));
      await appendDirectly(server, '__sluice_half_op', 1, op(id, { op: 'moving', offset: movingFrom }));
      let appendedAt = -1;
      if (alreadyInTarget) {
        await appendDirectly(server, 'moved-once', 0, { value: Buffer.from('someone else') });
        appendedAt = await appendDirectly(server, 'moved-once', 0, {
          key: Buffer.from('k'),
          value: Buffer.from('the message'),
          headers: [
            { key: 'h', value: Buffer.from('1') },
            { key: 'sluice.half.id', value: Buffer.from(id) },
          ],
        });
      }

      server = await restart(server, { 'transaction.check.delay.ms': '60000' });
      await waitFor('the move finished', async () => (await opsOf(server, id)).some((o) => o['op'] === 'moved'));
      await sleep(300);
      const copies = (await read(server, 'moved-once')).filter((r) => r.headers['sluice.half.id'] === id);
      assert.equal(copies.length, 1, 'exactly once');
      assert.equal(copies[0]!.value, 'the message');
      assert.equal(copies[0]!.key, 'k');
      assert.deepEqual(copies[0]!.headers, { h: '1', 'sluice.half.id': id });
      if (alreadyInTarget) assert.equal(copies[0]!.offset, appendedAt, 'found, not appended again');
      else assert.ok(copies[0]!.offset >= movingFrom);
      const ops = await opsOf(server, id);
      assert.deepEqual(
        ops.map((o) => o['op']),
        ['commit', 'moving', 'moved'],
      );
      assert.equal(ops[2]!['offset'], copies[0]!.offset);
      assert.equal(server.broker.halfMessages.pendingCount, 0);
    } finally {
      await server.close();
    }
  });
}

test('a commit read at open without "moving" is moved after the restart, once', async () => {
  let server = await startHalfBroker({ properties: { 'transaction.check.delay.ms': '60000' } });
  try {
    await server.broker.createTopic('commit-at-open', 1, {});
    const producer = await ChannelProducer.connect(server);
    const id = await producer.sendHalf({ topic: 'commit-at-open', partition: 0, group: 'g', value: 'v' });
    await waitFor('the half message', () => server.broker.halfMessages.checksOf(id) === 0);
    await producer.close();
    await server.broker.halfMessages.close();
    await appendDirectly(server, '__sluice_half_op', 0, op(id, { op: 'commit' }));
    server = await restart(server, { 'transaction.check.delay.ms': '60000' });
    await waitFor('the message in the target', async () => (await read(server, 'commit-at-open')).length === 1);
    await sleep(300);
    assert.equal((await read(server, 'commit-at-open')).length, 1);
  } finally {
    await server.close();
  }
});

// The broker wrote the "abandoned" after a commit it had not read yet.
test('replayed at open: an "abandoned" loses to an unread commit before it; one after "moving" ends it', async () => {
  let server = await startHalfBroker({ properties: { 'transaction.check.delay.ms': '60000' } });
  try {
    await server.broker.createTopic('replayed', 1, {});
    const producer = await ChannelProducer.connect(server);
    const raced = await producer.sendHalf({ topic: 'replayed', partition: 0, group: 'g', value: 'raced' });
    const givenUp = await producer.sendHalf({ topic: 'replayed', partition: 0, group: 'g', value: 'given up' });
    await waitFor('both pending', () => server.broker.halfMessages.pendingCount === 2);
    await producer.close();
    await server.broker.halfMessages.close();
    await appendDirectly(server, '__sluice_half_op', 0, op(raced, { op: 'commit' }));
    await appendDirectly(
      server,
      '__sluice_half_op',
      0,
      op(raced, { op: 'abandoned', reason: 'no decision after 3 checks' }),
    );
    await appendDirectly(server, '__sluice_half_op', 0, op(givenUp, { op: 'commit' }));
    await appendDirectly(server, '__sluice_half_op', 0, op(givenUp, { op: 'moving', offset: 0 }));
    await appendDirectly(server, '__sluice_half_op', 0, op(givenUp, { op: 'abandoned', reason: 'cannot append' }));
    server = await restart(server, { 'transaction.check.delay.ms': '60000' });
    await waitFor('the raced commit moved', async () => (await read(server, 'replayed')).length === 1);
    await sleep(300);
    assert.deepEqual(
      (await read(server, 'replayed')).map((r) => r.value),
      ['raced'],
    );
    assert.equal(server.broker.halfMessages.pendingCount, 0);
  } finally {
    await server.close();
  }
});
