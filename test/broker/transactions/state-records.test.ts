// `__transaction_state` records in Kafka's TransactionLogKey/TransactionLogValue layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeTransactionKey,
  decodeTransactionValue,
  encodeTransactionKey,
  encodeTransactionValue,
  TransactionStatus,
} from '../../../src/broker/transactions/state-records.js';

test('key: int16 version 0, then the transactional id as an int16-length string', () => {
  const key = encodeTransactionKey('tx-1');
  assert.deepEqual([...key], [0, 0, 0, 4, ...Buffer.from('tx-1')]);
  assert.equal(decodeTransactionKey(key), 'tx-1');
  assert.throws(() => decodeTransactionKey(Buffer.from([0, 1, 0, 0])), /version/);
});

test('value v0 round-trips and is laid out as Kafka writes it', () => {
  const value = {
    producerId: 4001,
    producerEpoch: 7,
    transactionTimeoutMs: 60_000,
    status: TransactionStatus.Ongoing,
    partitions: new Map([['orders', new Set([0, 2])]]),
    lastUpdateTimestampMs: 1_700_000_000_123,
    startTimestampMs: 1_700_000_000_000,
  };
  const bytes = encodeTransactionValue(value);
  const expected = Buffer.concat([
    Buffer.from([0, 0]), // version
    Buffer.from([0, 0, 0, 0, 0, 0, 0x0f, 0xa1]), // producer id 4001
    Buffer.from([0, 7]), // epoch
    Buffer.from([0, 0, 0xea, 0x60]), // timeout 60000
    Buffer.from([1]), // Ongoing
    Buffer.from([0, 0, 0, 1, 0, 6, ...Buffer.from('orders'), 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2]),
    (() => {
      const b = Buffer.alloc(16);
      b.writeBigInt64BE(1_700_000_000_123n, 0);
      b.writeBigInt64BE(1_700_000_000_000n, 8);
      return b;
    })(),
  ]);
  assert.deepEqual(bytes, expected);
  assert.deepEqual(decodeTransactionValue(bytes), value);
});

test('value: unknown versions and statuses are refused', () => {
  const bytes = encodeTransactionValue({
    producerId: 1,
    producerEpoch: 0,
    transactionTimeoutMs: 1,
    status: TransactionStatus.Empty,
    partitions: new Map(),
    lastUpdateTimestampMs: 0,
    startTimestampMs: -1,
  });
  const badVersion = Buffer.from(bytes);
  badVersion.writeInt16BE(9, 0);
  assert.throws(() => decodeTransactionValue(badVersion), /version/);
  const badStatus = Buffer.from(bytes);
  badStatus.writeInt8(42, 16);
  assert.throws(() => decodeTransactionValue(badStatus), /status/);
});
