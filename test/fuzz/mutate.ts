// Mutations of a valid request frame. The frame is encoded through a RecordingWriter, which notes
// where every INT16, INT32 and UNSIGNED_VARINT went: those are the lengths and counts of the
// encoding (string and bytes lengths, array counts, compact lengths, tagged-field sections) besides
// plain numbers, so "a huge array count", "a negative length" or "a varint that never ends" can be
// put exactly where a decoder reads one. The other mutations work on raw bytes.
//
//   op                 what it does                                             size prefix
//   bit-flip           flips 1-8 random bits of the message                      kept
//   insert             inserts 1-16 random bytes                                 fixed to the new size
//   delete             deletes 1-16 bytes                                        fixed
//   splice             copies a slice of the frame over another place            kept
//   huge-count         an INT32/UNSIGNED_VARINT length or count → huge           fixed
//   negative-length    an INT16/INT32 length → negative, a compact length → 0    kept
//   varint-overflow    an UNSIGNED_VARINT → 6-10 bytes with the high bit set     fixed
//   header             API key, version, correlation id or client id length      kept
//   size-lie           the size prefix says more or less than what follows       (that is the lie)
//
// A frame naming protected data (vocabulary.ts) keeps its API key and version: its 8 first bytes.
import { ByteWriter } from '../../src/protocol/primitives/byte-writer.js';
import type { Random } from '../support/random.js';

export interface Mark {
  /** Byte position in the frame (size prefix included). */
  at: number;
  kind: 'int16' | 'int32' | 'uvarint';
  /** Bytes the value took. */
  width: number;
}

/** A ByteWriter that remembers where it wrote each INT16, INT32 and UNSIGNED_VARINT. */
export class RecordingWriter extends ByteWriter {
  readonly marks: Mark[] = [];
  override int16(value: number): void {
    this.marks.push({ at: this.length, kind: 'int16', width: 2 });
    super.int16(value);
  }
  override int32(value: number): void {
    this.marks.push({ at: this.length, kind: 'int32', width: 4 });
    super.int32(value);
  }
  override uvarint(value: number): void {
    const at = this.length;
    super.uvarint(value);
    this.marks.push({ at, kind: 'uvarint', width: this.length - at });
  }
}

export const MUTATIONS = [
  'bit-flip',
  'insert',
  'delete',
  'splice',
  'huge-count',
  'negative-length',
  'varint-overflow',
  'header',
  'size-lie',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

/** The size prefix and the header fields every version has (api key, version, correlation id). */
const FRAME_SIZE_BYTES = 4;
const API_KEY_AND_VERSION_END = 8;
const CLIENT_ID_LENGTH_AT = 12;

export interface MutationLimits {
  /** socket.request.max.bytes: size-lie stays within it mostly, and sometimes says one byte more. */
  requestBytesMax: number;
}

function setSize(frame: Buffer): Buffer {
  frame.writeInt32BE(frame.length - FRAME_SIZE_BYTES, 0);
  return frame;
}

function uvarintBytes(value: number): Buffer {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}

function replace(frame: Buffer, at: number, width: number, bytes: Buffer): Buffer {
  return Buffer.concat([frame.subarray(0, at), bytes, frame.subarray(at + width)]);
}

/** Marks of `kinds` inside the frame after `from` (the size prefix and protected header excluded). */
function marksOf(marks: readonly Mark[], kinds: readonly Mark['kind'][], from: number, frame: Buffer): Mark[] {
  return marks.filter((m) => m.at >= from && m.at + m.width <= frame.length && kinds.includes(m.kind));
}

function applyOne(
  random: Random,
  frame: Buffer,
  marks: readonly Mark[],
  op: Mutation,
  from: number,
  limits: MutationLimits,
): Buffer {
  const at = (): number => random.int(from, Math.max(from, frame.length - 1));
  switch (op) {
    case 'bit-flip': {
      const out = Buffer.from(frame);
      if (out.length <= from) return out;
      for (let i = random.int(1, 8); i > 0; i--) {
        const position = at();
        out[position] = out[position]! ^ (1 << random.int(0, 7));
      }
      return out;
    }
    case 'insert':
      return setSize(replace(frame, at(), 0, random.bytes(random.int(1, 16))));
    case 'delete':
      return frame.length <= from ? frame : setSize(replace(frame, at(), random.int(1, 16), Buffer.alloc(0)));
    case 'splice': {
      const out = Buffer.from(frame);
      const source = random.int(FRAME_SIZE_BYTES, out.length - 1);
      const length = random.int(1, Math.min(32, out.length - source));
      out.copy(out, at(), source, source + length);
      return out.subarray(0, frame.length);
    }
    case 'huge-count': {
      const candidates = marksOf(marks, ['int32', 'uvarint'], from, frame);
      if (candidates.length === 0) return frame;
      const mark = random.pick(candidates);
      const huge = random.pick([2 ** 31 - 1, 2 ** 30, 1_000_000, 65_536, 2 ** 24]);
      if (mark.kind === 'int32') {
        const out = Buffer.from(frame);
        out.writeInt32BE(huge, mark.at);
        return out;
      }
      return setSize(replace(frame, mark.at, mark.width, uvarintBytes(random.pick([huge, 2 ** 32 - 1]))));
    }
    case 'negative-length': {
      const candidates = marksOf(marks, ['int16', 'int32', 'uvarint'], from, frame);
      if (candidates.length === 0) return frame;
      const mark = random.pick(candidates);
      const out = Buffer.from(frame);
      if (mark.kind === 'int16') out.writeInt16BE(random.pick([-1, -2, -32768]), mark.at);
      else if (mark.kind === 'int32') out.writeInt32BE(random.pick([-1, -2, -100, -(2 ** 31)]), mark.at);
      else return setSize(replace(frame, mark.at, mark.width, Buffer.from([0])));
      return out;
    }
    case 'varint-overflow': {
      const candidates = marksOf(marks, ['uvarint'], from, frame);
      if (candidates.length === 0) return frame;
      const mark = random.pick(candidates);
      const run = Buffer.alloc(random.int(6, 10), 0xff);
      if (random.chance(0.5)) run[run.length - 1] = 0x7f;
      return setSize(replace(frame, mark.at, mark.width, run));
    }
    case 'header': {
      const out = Buffer.from(frame);
      if (out.length < CLIENT_ID_LENGTH_AT + 2) return out;
      const field = random.int(from === FRAME_SIZE_BYTES ? 0 : 2, 3);
      if (field === 0) out.writeInt16BE(random.pick([-1, 17, 99, 1000, random.int(0, 70)]), 4);
      else if (field === 1) out.writeInt16BE(random.pick([-1, 100, 32767, out.readInt16BE(6) + 1]), 6);
      else if (field === 2) out.writeInt32BE(random.int(-(2 ** 31), 2 ** 31 - 1), 8);
      else out.writeInt16BE(random.pick([-2, 32767, out.length]), CLIENT_ID_LENGTH_AT);
      return out;
    }
    case 'size-lie': {
      const out = Buffer.from(frame);
      const body = out.length - FRAME_SIZE_BYTES;
      const lie = random.pick([
        body - random.int(1, Math.min(8, body)),
        body + random.int(1, 64),
        body + random.int(65, 1 << 20),
        limits.requestBytesMax,
        limits.requestBytesMax + 1,
        random.int(-(2 ** 31), -1),
      ]);
      out.writeInt32BE(lie, 0);
      return out;
    }
  }
}

/**
 * One to three mutations of `frame` (a whole frame, size prefix included) whose primitive writes are
 * `marks`. `keepApi` protects the API key and version. The marks of the first mutation are exact; a
 * later one may land on a shifted position (that is just another byte mutation).
 */
export function mutateFrame(
  random: Random,
  frame: Buffer,
  marks: readonly Mark[],
  keepApi: boolean,
  limits: MutationLimits,
): { bytes: Buffer; ops: Mutation[] } {
  const from = keepApi ? API_KEY_AND_VERSION_END : FRAME_SIZE_BYTES;
  const count = random.pick([1, 1, 1, 2, 3]);
  const ops: Mutation[] = [];
  let bytes = frame;
  for (let i = 0; i < count; i++) {
    // A size lie only makes sense last: every later op would fix or shift it.
    const op = random.pick(i === count - 1 ? MUTATIONS : MUTATIONS.filter((m) => m !== 'size-lie'));
    bytes = applyOne(random, bytes, marks, op, from, limits);
    ops.push(op);
  }
  return { bytes, ops };
}

/** A valid frame cut short: the prefix says the shorter length, so it frames, then fails to decode. */
export function truncateFrame(random: Random, frame: Buffer): Buffer {
  const keep = random.int(FRAME_SIZE_BYTES, frame.length - 1);
  return setSize(Buffer.from(frame.subarray(0, keep)));
}
