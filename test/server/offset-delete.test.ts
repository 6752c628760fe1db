// OffsetDelete over the wire: a simple (non-member) commit, then its deletion, seen by OffsetFetch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker } from '../support/test-broker.js';

test('OffsetDelete removes committed offsets of an empty group; unknown groups get GROUP_ID_NOT_FOUND', async () => {
  const server = await startTestBroker();
  try {
    await server.broker.createTopic('od', 2, {});
    const client = await RawClient.connect(server.port);
    let correlation = 0;
    const call = async (apiKey: number, version: number, body: object) => {
      client.request(apiKey, version, ++correlation, body);
      const frames = await client.waitForFrames(correlation);
      return RawClient.decode(apiKey, version, frames[correlation - 1]!).body;
    };
    const committed = await call(ApiKey.OffsetCommit, 2, {
      groupId: 'g-od',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      retentionTimeMs: -1n,
      topics: [
        {
          name: 'od',
          partitions: [
            { partitionIndex: 0, committedOffset: 5n, committedMetadata: 'm' },
            { partitionIndex: 1, committedOffset: 7n, committedMetadata: null },
          ],
        },
      ],
    });
    assert.deepEqual(
      committed.topics[0].partitions.map((p: { errorCode: number }) => p.errorCode),
      [0, 0],
    );
    const fetched = async () =>
      (
        await call(ApiKey.OffsetFetch, 1, { groupId: 'g-od', topics: [{ name: 'od', partitionIndexes: [0, 1] }] })
      ).topics[0].partitions.map((p: { committedOffset: bigint }) => p.committedOffset);
    assert.deepEqual(await fetched(), [5n, 7n]);
    const deleted = await call(ApiKey.OffsetDelete, 0, {
      groupId: 'g-od',
      topics: [{ name: 'od', partitions: [{ partitionIndex: 0 }] }],
    });
    assert.equal(deleted.errorCode, ErrorCode.NONE);
    assert.deepEqual(deleted.topics[0].partitions, [{ partitionIndex: 0, errorCode: 0 }]);
    assert.deepEqual(await fetched(), [-1n, 7n]);
    const unknown = await call(ApiKey.OffsetDelete, 0, {
      groupId: 'nobody',
      topics: [{ name: 'od', partitions: [{ partitionIndex: 0 }] }],
    });
    assert.equal(unknown.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    client.close();
  } finally {
    await server.close();
  }
});
