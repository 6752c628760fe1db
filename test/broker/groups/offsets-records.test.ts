// The `__consumer_offsets` record format (Kafka's) and the group → partition mapping (Kafka's
// abs(String.hashCode) % partitions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeGroupValue,
  decodeKey,
  decodeOffsetValue,
  encodeGroupKey,
  encodeGroupValue,
  encodeOffsetKey,
  encodeOffsetValue,
  javaStringHashCode,
  partitionForGroup,
} from '../../../src/broker/groups/offsets-records.js';

test('Java String.hashCode, including overflow and the Integer.MIN_VALUE case', () => {
  assert.equal(javaStringHashCode(''), 0);
  assert.equal(javaStringHashCode('abc'), 96354);
  assert.equal(javaStringHashCode('hello'), 99162322);
  assert.equal(javaStringHashCode('Aa'), javaStringHashCode('BB'));
  assert.equal(javaStringHashCode('polygenelubricants'), -2147483648);
  // Kafka's Utils.abs maps Integer.MIN_VALUE to 0.
  assert.equal(partitionForGroup('polygenelubricants', 50), 0);
  assert.equal(partitionForGroup('abc', 50), 96354 % 50);
  for (const id of ['g', 'group-1', 'ünïcødé', '😀']) {
    const p = partitionForGroup(id, 7);
    assert.ok(Number.isInteger(p) && p >= 0 && p < 7);
  }
});

// Value v1 carries an expiry, v3 a leader epoch.
test('offset commit key and value round-trip; bytes as Kafka lays them out', () => {
  const key = encodeOffsetKey('g', 't', 3);
  assert.deepEqual(key, Buffer.from([0, 1, 0, 1, 0x67, 0, 1, 0x74, 0, 0, 0, 3]));
  assert.deepEqual(decodeKey(key), { kind: 'offset', group: 'g', topic: 't', partition: 3 });
  const v3 = {
    offset: 42,
    leaderEpoch: 5,
    metadata: 'meta',
    commitTimestamp: 1_700_000_000_000,
    expireTimestamp: null,
  };
  const encoded = encodeOffsetValue(v3);
  assert.equal(encoded.readInt16BE(0), 3);
  assert.deepEqual(decodeOffsetValue(encoded), v3);
  const v1 = { offset: 7, leaderEpoch: -1, metadata: '', commitTimestamp: 1000, expireTimestamp: 2000 };
  assert.equal(encodeOffsetValue(v1).readInt16BE(0), 1);
  assert.deepEqual(decodeOffsetValue(encodeOffsetValue(v1)), v1);
});

test('group metadata key and value v3 round-trip; unknown key versions are skipped', () => {
  const key = encodeGroupKey('my-group');
  assert.equal(key.readInt16BE(0), 2);
  assert.deepEqual(decodeKey(key), { kind: 'group', group: 'my-group' });
  const group = {
    protocolType: 'consumer',
    generation: 9,
    protocol: 'range',
    leader: 'm-1',
    currentStateTimestamp: 1234,
    members: [
      {
        memberId: 'm-1',
        groupInstanceId: 'i-1',
        clientId: 'c',
        clientHost: '/127.0.0.1',
        rebalanceTimeoutMs: 60000,
        sessionTimeoutMs: 10000,
        subscription: Buffer.from([1, 2]),
        assignment: Buffer.from([3]),
      },
      {
        memberId: 'm-2',
        groupInstanceId: null,
        clientId: 'c',
        clientHost: '/127.0.0.1',
        rebalanceTimeoutMs: 60000,
        sessionTimeoutMs: 10000,
        subscription: Buffer.alloc(0),
        assignment: Buffer.alloc(0),
      },
    ],
  };
  assert.deepEqual(decodeGroupValue(encodeGroupValue(group)), group);
  const empty = { ...group, protocol: null, leader: null, members: [] };
  assert.deepEqual(decodeGroupValue(encodeGroupValue(empty)), empty);
  assert.equal(decodeKey(Buffer.from([0, 9, 0, 0])), null);
  assert.throws(() => decodeGroupValue(Buffer.from([0, 3, 0])));
});
