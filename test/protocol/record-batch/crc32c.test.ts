import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '../../../src/protocol/record-batch/crc32c.js';
import { randomBytes, testSeed, withSeed } from './helpers.js';

// A bit-by-byte table implementation written from the definition (reflected, polynomial
// 0x82F63B78, init and final xor 0xFFFFFFFF), to check the native one against.
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function referenceCrc32c(data: Uint8Array, initial = 0): number {
  let crc = ~initial >>> 0;
  for (let i = 0; i < data.length; i++) crc = (TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8)) >>> 0;
  return ~crc >>> 0;
}

test('crc32c: published check values', () => {
  // The standard check value of CRC-32C, and vectors from RFC 3720 (iSCSI) appendix B.4.
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  assert.equal(crc32c(Buffer.alloc(32, 0x00)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  const ascending = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) ascending[i] = i;
  assert.equal(crc32c(ascending), 0x46dd794e);
  const descending = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) descending[i] = 31 - i;
  assert.equal(crc32c(descending), 0x113fdb5c);
});

test('crc32c: the reference implementation agrees with the check values', () => {
  assert.equal(referenceCrc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(referenceCrc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
});

test('crc32c: matches the reference on random inputs, and always unsigned', async () => {
  await withSeed(testSeed(), (random) => {
    for (let round = 0; round < 300; round++) {
      const length = round < 70 ? round : (random() * 70_000) | 0;
      const data = randomBytes(random, length);
      const actual = crc32c(data);
      assert.equal(actual, referenceCrc32c(data), `length ${length}`);
      assert.ok(actual >= 0 && actual <= 0xffffffff);
    }
  });
});

test('crc32c: chaining with `initial` equals the CRC of the concatenation', async () => {
  await withSeed(testSeed(), (random) => {
    for (let round = 0; round < 100; round++) {
      const data = randomBytes(random, (random() * 5000) | 0);
      const cut = (random() * (data.length + 1)) | 0;
      const chained = crc32c(data.subarray(cut), crc32c(data.subarray(0, cut)));
      assert.equal(chained, crc32c(data));
      assert.equal(referenceCrc32c(data.subarray(cut), referenceCrc32c(data.subarray(0, cut))), chained);
    }
  });
});

test('crc32c: works on a Uint8Array view at a non-zero offset', () => {
  const backing = Buffer.from('xx123456789yy');
  const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 9);
  assert.equal(crc32c(view), 0xe3069283);
});
