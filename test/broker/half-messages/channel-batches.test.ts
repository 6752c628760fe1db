// A batch in the half-message channel whose CRC is right but whose records do not decode (found by the
// fuzzer, seed 4: every pass then failed on it — "reading the half message channel failed; retrying" —
// and no half message of that partition was ever read again). It is skipped and reported; the half
// messages after it are committed as usual.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readableBatches, type UnreadableBatch } from '../../../src/broker/half-messages/channel-batches.js';
import { ErrorCode } from '../../../src/protocol/generated/error-codes.js';
import { crc32c } from '../../../src/protocol/record-batch/crc32c.js';
import { CRC_OFFSET, CRC_START_OFFSET, RECORDS_OFFSET } from '../../../src/protocol/record-batch/header.js';
import { encodeRecordBatchSync } from '../../../src/protocol/record-batch/record-encoder.js';
import { ChannelProducer, read, startHalfBroker, waitFor } from './channel.js';

/** A batch with a believable header and a right CRC whose first record's length is nonsense. */
function undecodableBatch(baseOffset = 0): Buffer {
  const batch = encodeRecordBatchSync({ baseOffset, records: [{ key: Buffer.from('k'), value: Buffer.from('v') }] });
  batch[RECORDS_OFFSET] = 0x7f; // record length varint: -64
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START_OFFSET)), CRC_OFFSET);
  return batch;
}

test('readableBatches decodes the batches around an undecodable one and reports it', async () => {
  const good = (baseOffset: number) =>
    encodeRecordBatchSync({ baseOffset, records: [{ value: Buffer.from('a') }, { value: Buffer.from('b') }] });
  const unreadable: UnreadableBatch[] = [];
  const batches = await readableBatches(Buffer.concat([good(0), undecodableBatch(2), good(3)]), (b) =>
    unreadable.push(b),
  );
  assert.deepEqual(
    batches.map((b) => b.baseOffset),
    [0, 3],
  );
  assert.deepEqual(
    unreadable.map((b) => [b.baseOffset, b.lastOffset]),
    [[2, 2]],
  );
  assert.match(unreadable[0]!.error, /RecordDecodeError/);
});

test('an undecodable batch in __sluice_half does not stop the half messages after it', async () => {
  const server = await startHalfBroker({ properties: { 'transaction.check.delay.ms': '60000' } });
  const producer = await ChannelProducer.connect(server);
  try {
    await server.broker.createTopic('after-poison', 1, {});
    const poisoned = await server.broker.produce('__sluice_half', 0, undecodableBatch());
    assert.equal(poisoned.errorCode, ErrorCode.NONE);
    const id = await producer.sendHalf({ topic: 'after-poison', partition: 0, group: 'g', value: 'survives' }, 0);
    await producer.commit(id);
    await waitFor('the committed message in its target', async () => (await read(server, 'after-poison')).length > 0);
    assert.deepEqual(
      (await read(server, 'after-poison')).map((r) => r.value),
      ['survives'],
    );
    const skipped = server.logger.lines.filter(
      (l) => l.message === 'unreadable batch in the half message channel skipped',
    );
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0]!.fields['topic'], '__sluice_half');
    assert.equal(
      server.logger.lines.filter((l) => l.level === 'error').length,
      0,
      'no pass failed on the unreadable batch',
    );
  } finally {
    await producer.close();
    await server.close();
  }
});
