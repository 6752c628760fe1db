import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { compressSync as snappyRawCompress } from 'snappy';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { decompress as zstdReference } from 'zstd-napi';
import {
  compress,
  compressSync,
  decompress,
  decompressSync,
  lz4DecodeBlock,
} from '../../../src/protocol/record-batch/compression.js';
import { Compression } from '../../../src/protocol/record-batch/header.js';
import { DecompressionError, DecompressionLimitError } from '../../../src/protocol/record-batch/errors.js';
import { randomBytes, testSeed, withSeed } from './helpers.js';

const CODECS = [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd];
const COMPRESSED_CODECS = CODECS.filter((codec) => codec !== Compression.None);
const MiB = 1024 * 1024;

/** Random but compressible: runs of repeated short phrases mixed with noise. */
function sampleData(random: () => number, length: number): Buffer {
  const data = Buffer.alloc(length);
  let position = 0;
  while (position < length) {
    const run = Math.min(length - position, 1 + ((random() * 300) | 0));
    if (random() < 0.3) randomBytes(random, run).copy(data, position);
    else data.fill(`phrase-${(random() * 10) | 0} `, position, position + run);
    position += run;
  }
  return data;
}

test('compression: every codec round-trips, sync and async, sizes 0 .. 300 KiB', async () => {
  await withSeed(testSeed(), async (random) => {
    const sizes = [0, 1, 15, 100, 4096, 32 * 1024, 32 * 1024 + 1, 64 * 1024, 64 * 1024 + 7, 300 * 1024];
    for (const codec of CODECS) {
      for (const size of sizes) {
        const data = sampleData(random, size);
        const packed = compressSync(codec, data);
        assert.deepEqual(decompressSync(codec, packed, size), data, `codec ${codec} size ${size} sync`);
        const packedAsync = await compress(codec, data);
        assert.deepEqual(await decompress(codec, packedAsync, size), data, `codec ${codec} size ${size} async`);
        if (size > 4096 && codec !== Compression.None) assert.ok(packed.length < size, `codec ${codec} compresses`);
      }
    }
  });
});

test('compression: a limit far above any buffer size is accepted', () => {
  const data = Buffer.from('no practical limit '.repeat(50));
  for (const codec of CODECS) {
    assert.deepEqual(decompressSync(codec, compressSync(codec, data), Number.MAX_SAFE_INTEGER), data, `codec ${codec}`);
  }
  assert.throws(() => decompressSync(Compression.Gzip, compressSync(Compression.Gzip, data), -1), RangeError);
  assert.throws(() => decompressSync(Compression.Zstd, compressSync(Compression.Zstd, data), 1.5), RangeError);
});

test('compression: incompressible random data round-trips (stored LZ4 blocks)', async () => {
  await withSeed(testSeed(), (random) => {
    const data = randomBytes(random, 200 * 1024);
    for (const codec of CODECS) assert.deepEqual(decompressSync(codec, compressSync(codec, data), data.length), data);
    const frame = compressSync(Compression.Lz4, data);
    assert.ok(frame.readUInt32LE(7) & 0x80000000, 'first LZ4 block stored uncompressed');
  });
});

test('compression: the output is the Kafka wire form of each codec', () => {
  const data = Buffer.alloc(100_000, 'kafka ');
  const snappy = compressSync(Compression.Snappy, data);
  assert.deepEqual(snappy.subarray(0, 16), Buffer.from('82534e415050590000000001' + '00000001', 'hex'));
  const lz4 = compressSync(Compression.Lz4, data);
  assert.deepEqual(lz4.subarray(0, 7), Buffer.from('04224d18604082', 'hex'));
  assert.deepEqual(lz4.subarray(-4), Buffer.alloc(4));
  assert.deepEqual(
    decompressFrameSync(lz4),
    data,
    'an independent LZ4 frame decoder (with header checksum check) reads our frames',
  );
  assert.deepEqual(zstdReference(compressSync(Compression.Zstd, data)), data);
  assert.deepEqual(compressSync(Compression.Gzip, data).subarray(0, 2), Buffer.from([0x1f, 0x8b]));
});

test('snappy: decodes the xerial example from the snappy-java format description, and raw blocks', () => {
  // "foobar\n" as snappy-java writes it: magic, version 1, compatible 1, one 9-byte block.
  const xerial = Buffer.from('82534e41505059000000000100000001000000090718666f6f6261720a', 'hex');
  assert.equal(decompressSync(Compression.Snappy, xerial, 100).toString(), 'foobar\n');
  const raw = snappyRawCompress(Buffer.from('raw block from a non-Java client'));
  assert.equal(decompressSync(Compression.Snappy, raw, 100).toString(), 'raw block from a non-Java client');
  // Header only: an empty stream.
  assert.equal(decompressSync(Compression.Snappy, xerial.subarray(0, 16), 0).length, 0);
});

test('lz4: decodes frames from lz4-napi with content checksum and block checksums (256 KiB blocks)', async () => {
  await withSeed(testSeed(), (random) => {
    const data = sampleData(random, 700_000);
    for (const options of [{}, { contentChecksum: true }, { blockChecksums: true, contentChecksum: true }]) {
      const frame = compressFrameSync(data, options);
      assert.deepEqual(decompressSync(Compression.Lz4, frame, data.length), data, JSON.stringify(options));
    }
    // Two frames back to back, and a skippable frame between them.
    const frame = compressFrameSync(data.subarray(0, 1000));
    const skippable = Buffer.from('512a4d1803000000abcdef', 'hex');
    assert.deepEqual(
      decompressSync(Compression.Lz4, Buffer.concat([frame, skippable, frame]), 2000),
      Buffer.concat([data.subarray(0, 1000), data.subarray(0, 1000)]),
    );
  });
});

test('lz4: frame content size is honoured before decoding', () => {
  // FLG 0x68 = version 1, independent, content size present; declared 100 MiB.
  const header = Buffer.from('04224d186840', 'hex');
  const size = Buffer.alloc(8);
  size.writeUInt32LE(100 * MiB, 0);
  const frame = Buffer.concat([header, size, Buffer.from([0x00]), Buffer.alloc(4)]);
  assert.throws(() => decompressSync(Compression.Lz4, frame, MiB), DecompressionLimitError);
});

test('lz4: the block decoder handles overlapping matches and rejects bad offsets', () => {
  // token 0x1f: 1 literal 'a', match length 15+ext; offset 1 → a run of 'a'.
  const run = Buffer.from([0x1f, 0x61, 0x01, 0x00, 0x05]);
  // The last sequence carries literals only.
  const block = Buffer.concat([run, Buffer.from([0x10, 0x62])]);
  const output = lz4DecodeBlock(block, 65536, 65536);
  assert.equal(output.toString(), 'a'.repeat(1 + 15 + 5 + 4) + 'b');
  // Pattern of period 3 over 10 bytes.
  const pattern = lz4DecodeBlock(Buffer.from([0x36, 0x61, 0x62, 0x63, 0x03, 0x00, 0x10, 0x7a]), 65536, 65536);
  assert.equal(pattern.toString(), 'abc' + 'abcabcabca' + 'z');
  assert.throws(() => lz4DecodeBlock(Buffer.from([0x10, 0x61, 0x05, 0x00]), 65536, 65536), DecompressionError);
  assert.throws(() => lz4DecodeBlock(Buffer.from([0x50, 0x61]), 65536, 65536), DecompressionError);
  assert.throws(() => lz4DecodeBlock(run, 65536, 10), DecompressionLimitError);
  assert.throws(() => lz4DecodeBlock(run, 65536, 65536), /ends with a match/);
  assert.throws(() => lz4DecodeBlock(Buffer.alloc(0), 65536, 65536), DecompressionError);
});

test('compression: a 100 MiB bomb stops at a 1 MiB limit for every codec', async () => {
  const zeros = Buffer.alloc(100 * MiB);
  for (const codec of COMPRESSED_CODECS) {
    const bomb = compressSync(codec, zeros);
    assert.ok(bomb.length < 6 * MiB, `codec ${codec} bomb is small (${bomb.length})`);
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(() => decompressSync(codec, bomb, MiB), DecompressionLimitError, `codec ${codec} sync`);
    await assert.rejects(decompress(codec, bomb, MiB), DecompressionLimitError, `codec ${codec} async`);
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 50 * MiB, `codec ${codec} did not inflate the bomb (grew ${grown} bytes)`);
  }
  // A raw (non-xerial) snappy bomb declares its size up front.
  const rawBomb = snappyRawCompress(Buffer.alloc(20 * MiB));
  assert.throws(() => decompressSync(Compression.Snappy, rawBomb, MiB), DecompressionLimitError);
  // An LZ4 frame from another encoder (256 KiB blocks).
  assert.throws(
    () => decompressSync(Compression.Lz4, compressFrameSync(Buffer.alloc(20 * MiB)), MiB),
    DecompressionLimitError,
  );
  assert.throws(() => decompressSync(Compression.None, Buffer.alloc(MiB + 1), MiB), DecompressionLimitError);
});

test('compression: exactly the limit is allowed, one byte over is not', async () => {
  // Sizes on and off the 32/64/128 KiB block and chunk boundaries of the codecs.
  for (const size of [100_000, 128 * 1024, 4 * MiB]) {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = i % 251 < 200 ? 7 : i & 0xff;
    for (const codec of CODECS) {
      const packed = compressSync(codec, data);
      assert.deepEqual(decompressSync(codec, packed, size), data, `codec ${codec} size ${size}`);
      assert.throws(
        () => decompressSync(codec, packed, size - 1),
        DecompressionLimitError,
        `codec ${codec} size ${size}`,
      );
      await assert.rejects(
        decompress(codec, packed, size - 1),
        DecompressionLimitError,
        `codec ${codec} size ${size} async`,
      );
    }
  }
  for (const codec of CODECS) assert.equal(decompressSync(codec, compressSync(codec, Buffer.alloc(0)), 0).length, 0);
});

test('zstd: the window a frame may ask for is tied to the limit (min 8 MiB)', () => {
  // magic | FHD 0x00 (window descriptor present, no content size) | window log | last raw block of 0 bytes.
  // A 64 MiB window (log 26) is within zstd's default cap of 2^27, so only our cap stops it.
  const frame = (windowLog: number): Buffer =>
    Buffer.concat([
      Buffer.from('28b52ffd00', 'hex'),
      Buffer.from([(windowLog - 10) << 3]),
      Buffer.from('010000', 'hex'),
    ]);
  assert.throws(() => decompressSync(Compression.Zstd, frame(26), MiB), DecompressionError);
  assert.equal(decompressSync(Compression.Zstd, frame(26), 64 * MiB).length, 0);
  assert.equal(decompressSync(Compression.Zstd, frame(23), MiB).length, 0);
  assert.throws(() => decompressSync(Compression.Zstd, frame(24), MiB), DecompressionError);
});

test('compression: garbage and truncated input give DecompressionError, never a crash', async () => {
  await withSeed(testSeed(), async (random) => {
    const data = sampleData(random, 50_000);
    for (const codec of COMPRESSED_CODECS) {
      const packed = compressSync(codec, data);
      for (const cut of [1, 5, 17, packed.length >> 1, packed.length - 1]) {
        assert.throws(
          () => decompressSync(codec, packed.subarray(0, cut), 10 * MiB),
          (error: unknown) => error instanceof DecompressionError || error instanceof DecompressionLimitError,
          `codec ${codec} cut at ${cut}`,
        );
      }
      for (let round = 0; round < 30; round++) {
        const garbage = randomBytes(random, 1 + ((random() * 200) | 0));
        try {
          const output = await decompress(codec, garbage, 64 * 1024);
          assert.ok(output.length <= 64 * 1024);
        } catch (error) {
          assert.ok(error instanceof DecompressionError || error instanceof DecompressionLimitError, String(error));
        }
      }
    }
  });
});

test('compression: gzip written by another encoder (node zlib, kafkajs uses the same) decodes', () => {
  const data = Buffer.from('hello from zlib '.repeat(100));
  assert.deepEqual(decompressSync(Compression.Gzip, gzipSync(data, { level: 9 }), data.length), data);
  // Two gzip members back to back.
  assert.deepEqual(
    decompressSync(Compression.Gzip, Buffer.concat([gzipSync(data), gzipSync(data)]), 2 * data.length),
    Buffer.concat([data, data]),
  );
});
