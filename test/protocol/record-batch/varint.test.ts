import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  readVarint,
  readVarlong,
  sizeOfVarint,
  sizeOfVarlong,
  writeVarint,
  writeVarlong,
} from '../../../src/protocol/record-batch/varint.js';
import { RecordDecodeError } from '../../../src/protocol/record-batch/errors.js';
import { testSeed, withSeed } from './helpers.js';

function encodeVarint(value: number): Buffer {
  const buffer = Buffer.alloc(10);
  const end = writeVarint(buffer, value, 0);
  assert.equal(end, sizeOfVarint(value), `size of ${value}`);
  return buffer.subarray(0, end);
}

function encodeVarlong(value: number): Buffer {
  const buffer = Buffer.alloc(10);
  const end = writeVarlong(buffer, value, 0);
  assert.equal(end, sizeOfVarlong(value), `size of ${value}`);
  return buffer.subarray(0, end);
}

test('varint: known zig-zag encodings', () => {
  const cases: Array<[number, string]> = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-2, '03'],
    [63, '7e'],
    [-64, '7f'],
    [64, '8001'],
    [300, 'd804'],
    [2147483647, 'feffffff0f'],
    [-2147483648, 'ffffffff0f'],
  ];
  for (const [value, hex] of cases) {
    assert.equal(encodeVarint(value).toString('hex'), hex, `encode ${value}`);
    assert.equal(readVarint(Buffer.from(hex, 'hex'), { position: 0 }, hex.length / 2), value, `decode ${hex}`);
    assert.equal(encodeVarlong(value).toString('hex'), hex, `varlong encode ${value}`);
  }
  assert.equal(encodeVarlong(2 ** 40).toString('hex'), '808080808040');
  assert.equal(encodeVarlong(-(2 ** 40) - 1).toString('hex'), '818080808040');
  assert.equal(readVarlong(encodeVarlong(-(2 ** 52)), { position: 0 }, 10), -(2 ** 52));
  assert.equal(readVarlong(encodeVarlong(2 ** 52 - 1), { position: 0 }, 10), 2 ** 52 - 1);
});

/** Reference varlong encoder over bigint, straight from the definition. */
function referenceVarlong(value: bigint): string {
  let zigzag = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  const bytes: number[] = [];
  while (zigzag >= 0x80n) {
    bytes.push(Number(zigzag & 0x7fn) | 0x80);
    zigzag >>= 7n;
  }
  bytes.push(Number(zigzag));
  return Buffer.from(bytes).toString('hex');
}

test('varlong: agrees with a bigint reference encoder', async () => {
  await withSeed(testSeed(), (random) => {
    for (let round = 0; round < 2000; round++) {
      const magnitude = Math.floor(random() * 2 ** Math.floor(random() * 53));
      const value = random() < 0.5 ? -magnitude || 0 : magnitude;
      assert.equal(encodeVarlong(value).toString('hex'), referenceVarlong(BigInt(value)), `value ${value}`);
    }
  });
});

test('varint and varlong: random round trips, the cursor lands after the value', async () => {
  await withSeed(testSeed(), (random) => {
    const buffer = Buffer.alloc(64);
    for (let round = 0; round < 5000; round++) {
      const int32 = ((random() * 2 ** 32) | 0) >> ((random() * 32) | 0);
      let end = writeVarint(buffer, int32, 3);
      const cursor = { position: 3 };
      assert.equal(readVarint(buffer, cursor, buffer.length), int32);
      assert.equal(cursor.position, end);
      const magnitude = Math.floor(random() * 2 ** Math.floor(random() * 53));
      const long = random() < 0.5 ? -magnitude || 0 : magnitude;
      end = writeVarlong(buffer, long, 0);
      const longCursor = { position: 0 };
      assert.equal(readVarlong(buffer, longCursor, buffer.length), long);
      assert.equal(longCursor.position, end);
    }
  });
});

test('varint: malformed input throws RecordDecodeError with the position', () => {
  const truncated = Buffer.from([0x80, 0x80]);
  assert.throws(() => readVarint(truncated, { position: 0 }, 2), RecordDecodeError);
  assert.throws(() => readVarint(Buffer.alloc(0), { position: 0 }, 0), RecordDecodeError);
  // The end bound is respected even when the buffer continues.
  assert.throws(() => readVarint(Buffer.from([0x80, 0x01]), { position: 0 }, 1), /truncated/);
  assert.throws(() => readVarint(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x1f]), { position: 0 }, 5), /32 bits/);
  assert.throws(
    () => readVarint(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), { position: 0 }, 6),
    RecordDecodeError,
  );
  assert.throws(() => readVarlong(Buffer.alloc(11, 0xff), { position: 0 }, 11), /longer than 10/);
  assert.throws(() => readVarlong(Buffer.from('ffffffffffffffffff01', 'hex'), { position: 0 }, 10), /safe-integer/);
  try {
    readVarint(Buffer.from([0x00, 0x80]), { position: 1 }, 2);
    assert.fail('expected a throw');
  } catch (error) {
    assert.ok(error instanceof RecordDecodeError);
    assert.equal(error.position, 2);
  }
});
