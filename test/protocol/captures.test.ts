// Real client requests (test/fixtures/captures/, made by scripts/capture-fixtures.ts from kafkajs,
// kcat/librdkafka and @platformatic/kafka) decoded with the generated codecs: the header and body
// parse exactly, carry what the client was asked to send, and re-encode to the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beginRequestFrame, decodeRequestHeader, finishFrame } from '../../src/protocol/frame.js';
import {
  apiCodecs,
  ApiKey,
  consumerProtocolAssignment,
  consumerProtocolSubscription,
} from '../../src/protocol/generated/index.js';
import {
  Compression,
  RecordBatchHeader,
  RECORD_BATCH_MAGIC,
  validateBatch,
} from '../../src/protocol/record-batch/header.js';
import {
  CAPTURE_GROUP,
  CAPTURE_TOPIC,
  capturesDir,
  CREATED_TOPIC,
  KAFKAJS_CLIENT_ID,
  KCAT_CLIENT_ID,
  kebab,
  PLATFORMATIC_CLIENT_ID,
} from '../../scripts/capture-fixtures.js';
import { CAPTURE_TRANSACTIONAL_ID } from '../../scripts/capture-transaction-fixtures.js';

const clientIds: Record<string, string> = {
  kafkajs: KAFKAJS_CLIENT_ID,
  kcat: KCAT_CLIENT_ID,
  platformatic: PLATFORMATIC_CLIENT_ID,
};
const codecs: Record<string, Compression> = {
  none: Compression.None,
  gzip: Compression.Gzip,
  snappy: Compression.Snappy,
  lz4: Compression.Lz4,
  zstd: Compression.Zstd,
};
/** Every producer in scripts/capture-fixtures.ts sends these 20 records to partition 0. */
const PRODUCED_RECORDS = 20;
const EARLIEST_TIMESTAMP = -2n;

const apiKeyByFileName = new Map([...apiCodecs.values()].map((codec) => [kebab(codec.apiName), codec.apiKey]));

interface Fixture {
  file: string;
  client: string;
  apiKey: number;
  version: number;
  label: string | undefined;
  frame: Buffer;
}

function loadFixtures(): Fixture[] {
  const pattern = /^(kafkajs|kcat|platformatic)-([a-z-]+)-v(\d+)(?:-([a-z0-9]+))?\.bin$/;
  return readdirSync(capturesDir)
    .filter((file) => file.endsWith('.bin'))
    .sort()
    .map((file) => {
      const match = pattern.exec(file);
      assert.ok(match, `${file}: name should be <client>-<api>-v<version>[-<label>].bin`);
      const apiKey = apiKeyByFileName.get(match[2]!);
      assert.ok(apiKey !== undefined, `${file}: unknown API ${match[2]}`);
      return {
        file,
        client: match[1]!,
        apiKey,
        version: Number(match[3]),
        label: match[4],
        frame: readFileSync(join(capturesDir, file)),
      };
    });
}

const fixtures = loadFixtures();

/** The request body as decoded by the generated codec; typed loosely because each API has its own type. */
type AnyRequest = any;

function decode(fixture: Fixture): { clientId: string | null; correlationId: number; body: AnyRequest } {
  const { header, bodyOffset } = decodeRequestHeader(fixture.frame, 4);
  assert.equal(header.requestApiKey, fixture.apiKey, 'api key');
  assert.equal(header.requestApiVersion, fixture.version, 'api version');
  const body = apiCodecs.get(fixture.apiKey)!.decodeRequest(fixture.version, fixture.frame, bodyOffset);
  return { clientId: header.clientId, correlationId: header.correlationId, body };
}

/**
 * Checks the one record batch of a Produce partition: whole, CRC-sound, magic 2, and compressed as the
 * file name says.
 */
function checkProducedBatch(fixture: Fixture, records: unknown): void {
  assert.ok(Buffer.isBuffer(records), 'records is a Buffer');
  assert.ok(records.length >= 61, 'records hold at least a batch header');
  assert.equal(records.readInt8(16), RECORD_BATCH_MAGIC, 'magic 2 at byte 16');
  assert.equal(validateBatch(records, 0, records.length), null, 'batch is sound');
  const batch = new RecordBatchHeader(records);
  assert.equal(batch.totalBytes, records.length, 'exactly one batch');
  assert.equal(batch.recordCount, PRODUCED_RECORDS);
  assert.equal(batch.lastOffsetDelta, PRODUCED_RECORDS - 1);
  assert.equal(batch.baseOffset, 0, 'clients send baseOffset 0');
  const codec = codecs[fixture.label ?? ''];
  assert.ok(codec !== undefined, `${fixture.file}: Produce fixtures are labelled with their codec`);
  assert.equal(batch.compression, codec, 'compression attribute');
  if (codec === Compression.Gzip) assert.ok(gunzipSync(records.subarray(61)).length > 0, 'gzip body inflates');
}

/** What each API's request must say, beyond header and round trip. */
const expectations: Partial<Record<number, (fixture: Fixture, body: AnyRequest) => void>> = {
  [ApiKey.ApiVersions](fixture, body) {
    if (fixture.version >= 3) {
      const software: Record<string, [string, string]> = {
        kcat: ['librdkafka', '2.0.2'],
        platformatic: ['platformatic-kafka', '1.35.0'],
      };
      assert.deepEqual([body.clientSoftwareName, body.clientSoftwareVersion], software[fixture.client]);
    }
  },
  [ApiKey.Metadata](fixture, body) {
    if (fixture.client === 'kcat') {
      assert.deepEqual(body.topics, [], 'kcat -L asks for all topics');
      assert.equal(body.allowAutoTopicCreation, false);
    } else {
      assert.deepEqual(
        body.topics.map((t: { name: string }) => t.name),
        [CAPTURE_TOPIC],
      );
    }
  },
  [ApiKey.Produce](fixture, body) {
    assert.equal(body.transactionalId, null);
    assert.equal(body.acks, fixture.client === 'platformatic' ? 1 : -1, 'acks');
    assert.equal(body.topicData.length, 1);
    assert.equal(body.topicData[0].name, CAPTURE_TOPIC);
    assert.equal(body.topicData[0].partitionData.length, 1);
    assert.equal(body.topicData[0].partitionData[0].index, 0, 'partition');
    checkProducedBatch(fixture, body.topicData[0].partitionData[0].records);
  },
  [ApiKey.Fetch](_fixture, body) {
    assert.equal(body.replicaId, -1, 'a consumer, not a follower');
    assert.equal(body.isolationLevel, 1, 'READ_COMMITTED by default');
    assert.equal(body.topics.length, 1);
    assert.equal(body.topics[0].topic, CAPTURE_TOPIC);
    assert.equal(body.topics[0].partitions[0].partition, 0);
    assert.equal(body.topics[0].partitions[0].fetchOffset, 0n);
    assert.ok(body.maxBytes > 0 && body.maxWaitMs > 0);
  },
  [ApiKey.ListOffsets](_fixture, body) {
    assert.equal(body.replicaId, -1);
    assert.equal(body.topics[0].name, CAPTURE_TOPIC);
    assert.equal(body.topics[0].partitions[0].partitionIndex, 0);
    assert.equal(body.topics[0].partitions[0].timestamp, EARLIEST_TIMESTAMP, 'from the beginning');
  },
  [ApiKey.FindCoordinator](fixture, body) {
    assert.equal(body.keyType, 0, 'group coordinator');
    if (fixture.version >= 4) assert.deepEqual(body.coordinatorKeys, [CAPTURE_GROUP]);
    else assert.equal(body.key, CAPTURE_GROUP);
  },
  [ApiKey.JoinGroup](fixture, body) {
    assert.equal(body.groupId, CAPTURE_GROUP);
    assert.equal(body.memberId, '', 'first join has no member id');
    assert.equal(body.protocolType, 'consumer');
    assert.ok(body.protocols.length >= 1);
    for (const protocol of body.protocols as Array<{ metadata: Buffer }>) {
      const version = protocol.metadata.readInt16BE(0);
      if (fixture.client === 'platformatic') {
        // @platformatic/kafka 1.35 labels its subscription version 1 but writes only the v0 fields
        // (no ownedPartitions). The broker must treat protocol metadata as opaque bytes, and an
        // assignor reading it must not insist on the fields its version promises.
        assert.equal(version, 1);
        assert.throws(() => consumerProtocolSubscription.decodeMessage(1, protocol.metadata, 2), /ownedPartitions/);
        assert.deepEqual(consumerProtocolSubscription.decodeMessage(0, protocol.metadata, 2).topics, [CAPTURE_TOPIC]);
        continue;
      }
      const subscription = consumerProtocolSubscription.decodeMessage(version, protocol.metadata, 2);
      assert.deepEqual(subscription.topics, [CAPTURE_TOPIC]);
    }
  },
  [ApiKey.SyncGroup](_fixture, body) {
    assert.equal(body.groupId, CAPTURE_GROUP);
    assert.equal(body.generationId, 1);
    assert.ok(body.memberId.length > 0);
    assert.equal(body.assignments.length, 1, 'the only member is the leader and sends the assignment');
    const assignment: Buffer = body.assignments[0].assignment;
    const decoded = consumerProtocolAssignment.decodeMessage(assignment.readInt16BE(0), assignment, 2);
    assert.deepEqual(decoded.assignedPartitions, [{ topic: CAPTURE_TOPIC, partitions: [0] }]);
  },
  [ApiKey.Heartbeat](_fixture, body) {
    assert.equal(body.groupId, CAPTURE_GROUP);
    assert.equal(body.generationId, 1);
  },
  [ApiKey.OffsetFetch](fixture, body) {
    const group = fixture.version >= 8 ? body.groups[0] : body;
    assert.equal(group.groupId, CAPTURE_GROUP);
    assert.deepEqual(group.topics, [
      {
        name: CAPTURE_TOPIC,
        partitionIndexes: [0],
        ...(fixture.version >= 8 ? { topicId: group.topics[0].topicId } : {}),
      },
    ]);
  },
  [ApiKey.CreateTopics](_fixture, body) {
    assert.equal(body.topics.length, 1);
    assert.equal(body.topics[0].name, CREATED_TOPIC);
    assert.equal(body.topics[0].numPartitions, 1);
    assert.equal(body.topics[0].replicationFactor, 1);
    assert.equal(body.validateOnly, false);
  },
  // Transactions (scripts/capture-transaction-fixtures.ts, a real broker behind a recording proxy).
  [ApiKey.InitProducerId](fixture, body) {
    assert.equal(
      body.transactionalId,
      fixture.client === 'platformatic' ? `${CAPTURE_TRANSACTIONAL_ID}-platformatic` : CAPTURE_TRANSACTIONAL_ID,
    );
    assert.ok(body.transactionTimeoutMs > 0, 'a transaction timeout');
    if (fixture.version >= 3)
      assert.deepEqual(
        [body.producerId, body.producerEpoch],
        [0n, 0],
        'platformatic sends 0/0, not -1/-1, for a new producer',
      );
  },
  [ApiKey.AddPartitionsToTxn](fixture, body) {
    assert.ok(body.v3AndBelowTransactionalId.startsWith(CAPTURE_TRANSACTIONAL_ID));
    assert.ok(body.v3AndBelowProducerId >= 0n);
    assert.deepEqual(
      body.v3AndBelowTopics.map((t: { name: string; partitions: number[] }) => [t.name, t.partitions]),
      [[CAPTURE_TOPIC, [0]]],
    );
  },
  [ApiKey.AddOffsetsToTxn](_fixture, body) {
    assert.equal(body.transactionalId, CAPTURE_TRANSACTIONAL_ID);
    assert.equal(body.groupId, CAPTURE_GROUP);
  },
  [ApiKey.TxnOffsetCommit](_fixture, body) {
    assert.equal(body.transactionalId, CAPTURE_TRANSACTIONAL_ID);
    assert.equal(body.groupId, CAPTURE_GROUP);
    assert.deepEqual(
      body.topics.map((t: { name: string; partitions: Array<{ partitionIndex: number; committedOffset: bigint }> }) => [
        t.name,
        t.partitions.map((p) => [p.partitionIndex, p.committedOffset]),
      ]),
      [[CAPTURE_TOPIC, [[0, 1n]]]],
    );
  },
  [ApiKey.EndTxn](_fixture, body) {
    assert.ok(body.transactionalId.startsWith(CAPTURE_TRANSACTIONAL_ID));
    assert.equal(body.committed, true);
  },
};

test('the capture set covers the APIs and versions the broker must accept', () => {
  const names = new Set(fixtures.map((f) => f.file.replace(/\.bin$/, '')));
  for (const expected of [
    'kafkajs-api-versions-v2',
    'kcat-api-versions-v3',
    'platformatic-api-versions-v3',
    'kcat-metadata-v4',
    'kafkajs-metadata-v6',
    'platformatic-metadata-v9',
    'kafkajs-produce-v7-none',
    'kafkajs-produce-v7-gzip',
    'kcat-produce-v7-none',
    'kcat-produce-v7-gzip',
    'kcat-produce-v7-snappy',
    'kcat-produce-v7-lz4',
    'kcat-produce-v7-zstd',
    'kafkajs-fetch-v11',
    'kcat-fetch-v11',
    'platformatic-fetch-v12',
    'kafkajs-list-offsets-v3',
    'kcat-list-offsets-v2',
    'platformatic-list-offsets-v5',
    'kafkajs-find-coordinator-v2',
    'platformatic-find-coordinator-v4',
    'kafkajs-join-group-v5',
    'kcat-join-group-v5',
    'platformatic-join-group-v6',
    'kafkajs-create-topics-v3',
    'platformatic-create-topics-v7',
    'kafkajs-init-producer-id-v1',
    'platformatic-init-producer-id-v4',
    'kafkajs-add-partitions-to-txn-v1',
    'platformatic-add-partitions-to-txn-v3',
    'kafkajs-add-offsets-to-txn-v1',
    'kafkajs-txn-offset-commit-v1',
    'kafkajs-end-txn-v1',
    'platformatic-end-txn-v4',
  ]) {
    assert.ok(names.has(expected), `missing fixture ${expected}.bin`);
  }
});

for (const fixture of fixtures) {
  test(`${fixture.file}: decodes, says what the client sent, re-encodes to the same bytes`, () => {
    const { frame } = fixture;
    assert.equal(frame.readInt32BE(0), frame.length - 4, 'size prefix counts the rest of the frame');
    const { clientId, correlationId, body } = decode(fixture);
    assert.equal(clientId, clientIds[fixture.client], 'client id');
    const check = expectations[fixture.apiKey];
    assert.ok(check, `no expectations written for API key ${fixture.apiKey}`);
    check(fixture, body);

    // Every capture so far is canonical (no unknown tagged fields, minimal encodings), so the
    // generated encoder must reproduce it byte for byte.
    const again = beginRequestFrame(fixture.apiKey, fixture.version, correlationId, clientId);
    apiCodecs.get(fixture.apiKey)!.encodeRequest(fixture.version, body, again.writer);
    assert.deepEqual(Buffer.concat(finishFrame(again)), frame);
  });
}
