// CRC-32C throughput: the native @node-rs/crc32 checksum the broker uses, beside a plain memory
// copy (Buffer.copy) measured in the same run as the yardstick, and beside a pure-TypeScript
// slice-by-8 implementation to show what the native dependency buys. Figures are MB/s
// (10^6 bytes per second); compare the ratios, not the absolute numbers, across machines.
import { cpus } from 'node:os';
import { crc32c } from '../src/protocol/record-batch/crc32c.js';

const SIZES = [16 * 1024, 1024 * 1024];
const MEASURE_MS = 400;
const ROUNDS = 3;

/** Slice-by-8 tables: T[0] is the byte-at-a-time table, T[k][n] advances T[k-1][n] by one zero byte. */
const SLICE_TABLES = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const first = tables[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    first[n] = c >>> 0;
  }
  for (let t = 1; t < 8; t++) {
    const previous = tables[t - 1]!;
    const table = tables[t]!;
    for (let n = 0; n < 256; n++) table[n] = ((previous[n]! >>> 8) ^ first[previous[n]! & 0xff]!) >>> 0;
  }
  return tables;
})();

export function crc32cSliceBy8(data: Uint8Array, initial = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = SLICE_TABLES as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let crc = ~initial;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    const low = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    const high = data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24);
    crc =
      t7[low & 0xff]! ^
      t6[(low >>> 8) & 0xff]! ^
      t5[(low >>> 16) & 0xff]! ^
      t4[low >>> 24]! ^
      t3[high & 0xff]! ^
      t2[(high >>> 8) & 0xff]! ^
      t1[(high >>> 16) & 0xff]! ^
      t0[high >>> 24]!;
  }
  for (; i < data.length; i++) crc = t0[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** Best of ROUNDS: MB/s of `work` over `bytes` bytes, each round running for about MEASURE_MS. */
function throughput(bytes: number, work: () => void): number {
  for (let i = 0; i < 20; i++) work(); // warm up (JIT, caches)
  let best = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let iterations = 0;
    const start = process.hrtime.bigint();
    let elapsedNs = 0n;
    do {
      for (let i = 0; i < 16; i++) work();
      iterations += 16;
      elapsedNs = process.hrtime.bigint() - start;
    } while (elapsedNs < BigInt(MEASURE_MS) * 1_000_000n);
    best = Math.max(best, (iterations * bytes) / (Number(elapsedNs) / 1e9) / 1e6);
  }
  return best;
}

export async function run(): Promise<void> {
  const cpu = cpus();
  console.log(
    `machine: ${cpu[0]?.model ?? 'unknown cpu'}, ${cpu.length} cores, ` +
      `node ${process.version}, ${process.platform}/${process.arch}`,
  );
  console.log('size      crc32c (native)   Buffer.copy     crc/copy   slice-by-8 (TS)   native/TS');
  for (const size of SIZES) {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 2654435761) >>> 24;
    const target = Buffer.alloc(size);
    if (crc32cSliceBy8(data) !== crc32c(data)) throw new Error('slice-by-8 disagrees with the native CRC-32C');
    let sink = 0;
    const native = throughput(size, () => {
      sink ^= crc32c(data);
    });
    const copy = throughput(size, () => {
      data.copy(target);
    });
    const pure = throughput(size, () => {
      sink ^= crc32cSliceBy8(data);
    });
    const label = size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : `${size / 1024} KiB`;
    console.log(
      `${label.padEnd(8)}  ${native.toFixed(0).padStart(9)} MB/s   ${copy.toFixed(0).padStart(8)} MB/s   ` +
        `${(native / copy).toFixed(2).padStart(6)}   ${pure.toFixed(0).padStart(11)} MB/s   ` +
        `${(native / pure).toFixed(1).padStart(8)}x` +
        (sink === 0.5 ? ' ' : ''),
    );
  }
}
