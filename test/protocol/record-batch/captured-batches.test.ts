// Decodes the record batches inside Produce requests captured from real clients
// (test/fixtures/captures/, written by scripts/capture-fixtures.ts): librdkafka via kcat with
// every codec, @platformatic/kafka with none/gzip/snappy/lz4, kafkajs with none/gzip. This is
// the interop check for our decompressors against other implementations' compressors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeRecordBatch } from '../../../src/protocol/record-batch/record-decoder.js';
import { encodeRecordBatchSync } from '../../../src/protocol/record-batch/record-encoder.js';
import { Compression, RecordBatchHeader, validateBatch } from '../../../src/protocol/record-batch/header.js';

function repositoryRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error('package.json not found above the test');
    directory = parent;
  }
  return directory;
}

const capturesDirectory = join(repositoryRoot(), 'test', 'fixtures', 'captures');
const CODEC_BY_LABEL: Record<string, Compression> = {
  none: Compression.None,
  gzip: Compression.Gzip,
  snappy: Compression.Snappy,
  lz4: Compression.Lz4,
  zstd: Compression.Zstd,
};
/** What the capture script produced: 20 messages cycling through 4 texts. */
const expectedValue = (i: number): string =>
  `sluice capture message ${i % 4}: the quick brown fox jumps over the lazy dog`;

/** The first position where a whole, CRC-valid v2 batch starts (the records field of the request). */
function findBatch(request: Buffer): number {
  for (let position = 0; position + 61 <= request.length; position++) {
    if (request[position + 16] === 2 && validateBatch(request, position, request.length - position) === null)
      return position;
  }
  return -1;
}

const captures = existsSync(capturesDirectory)
  ? readdirSync(capturesDirectory).filter((name) => /-produce-v\d+-\w+\.bin$/.test(name))
  : [];

test('captured batches: fixtures are present', () => {
  assert.ok(captures.length >= 10, `found ${captures.length} produce captures in ${capturesDirectory}`);
  for (const label of Object.keys(CODEC_BY_LABEL)) {
    assert.ok(
      captures.some((name) => name.endsWith(`-${label}.bin`)),
      `a capture with ${label}`,
    );
  }
});

for (const name of captures) {
  test(`captured batches: ${name} decodes to the messages the client sent`, async () => {
    const label = /-(\w+)\.bin$/.exec(name)![1]!;
    const request = readFileSync(join(capturesDirectory, name));
    const position = findBatch(request);
    assert.ok(position > 0, 'a valid batch inside the request');
    const header = new RecordBatchHeader(request, position);
    assert.equal(header.compression, CODEC_BY_LABEL[label]);
    const batchBytes = request.subarray(position, position + header.totalBytes);
    const batch = await decodeRecordBatch(batchBytes, { maxDecompressedBytes: 1 << 20 });
    assert.equal(batch.records.length, header.recordCount);
    assert.ok(batch.records.length >= 1);
    batch.records.forEach((record, i) => {
      assert.equal(record.offsetDelta, i);
      assert.equal(record.value?.toString(), expectedValue(i), `record ${i}`);
      if (!name.startsWith('kcat-')) assert.equal(record.key?.toString(), `key-${i % 4}`);
    });

    // Re-encoding the same records with the same codec gives a batch that decodes identically.
    const again = encodeRecordBatchSync({
      compression: header.compression,
      producerId: batch.producerId,
      producerEpoch: batch.producerEpoch,
      baseSequence: batch.baseSequence,
      records: batch.records.map((record) => ({
        key: record.key,
        value: record.value,
        headers: record.headers,
        timestamp: record.timestamp,
      })),
    });
    const reread = await decodeRecordBatch(again);
    assert.deepEqual(
      reread.records.map((record) => [record.key, record.value, record.timestamp]),
      batch.records.map((record) => [record.key, record.value, record.timestamp]),
    );
  });
}
