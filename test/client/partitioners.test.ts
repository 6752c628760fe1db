// The default partitioner must agree with the Java client and kafkajs, key for key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { keyPartition, murmur2, StickyPartitions } from '../../src/client/partitioners.js';

test('murmur2 matches the Java client on known vectors', () => {
  // From Kafka's UtilsTest (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [key, hash] of vectors) assert.equal(murmur2(Buffer.from(key)), hash, key);
  assert.equal(keyPartition(Buffer.from('foobar'), 10), (-790332482 & 0x7fffffff) % 10);
});

test('keyed partitions agree with kafkajs DefaultPartitioner over random keys', () => {
  const partitioner = kafkajs.Partitioners.DefaultPartitioner();
  const seed = Date.now();
  for (const partitionCount of [1, 3, 7, 12, 100]) {
    const partitionMetadata = Array.from({ length: partitionCount }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    }));
    for (let i = 0; i < 2000; i++) {
      const key = randomBytes(i % 40);
      const theirs = partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
      assert.equal(
        keyPartition(key, partitionCount),
        theirs,
        `key ${key.toString('hex')} over ${partitionCount} partitions (seed ${seed})`,
      );
    }
    for (let i = 0; i < 500; i++) {
      const key = `order-${i}-${'é'.repeat(i % 5)}`;
      const theirs = partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
      assert.equal(keyPartition(Buffer.from(key, 'utf8'), partitionCount), theirs, key);
    }
  }
});

test('sticky partitions move on when a batch closes', () => {
  const sticky = new StickyPartitions(() => 0.5);
  const first = sticky.partition('t', 4);
  assert.equal(sticky.partition('t', 4), first);
  sticky.batchClosed('t', first, 4);
  assert.notEqual(sticky.partition('t', 4), first);
  assert.equal(sticky.partition('single', 1), 0);
});
