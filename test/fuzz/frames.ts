// The fuzzer's frame stream: for one connection slot and one seed, a deterministic sequence of
// *units* — what to write and how — built only from the slot's own Random, never from responses or
// timing, so a seed replays the same bytes (except the 16 bytes of a topic id, which are the ids the
// broker assigned in this run; see values.ts).
//
//   unit        weight  what the driver does with it
//   single        38    one frame, one write
//   pipeline      36    2-4000 frames in one write (a tenth repeat one API and version: a flood)
//   split         14    1-5 frames written in 2-8 pieces cut at random points
//   cut            6    frames, the last one written only in part, then the connection is dropped
//   idle           3    a side connection that sends nothing or a few bytes of a frame, then waits
//   reconnect      3    the slot closes its connection and opens a new one
//
//   frame kind   how it is made
//   valid        a request of an advertised API and version, fields from values.ts
//   bad-batch    a valid Produce (or other records-carrying request) whose batch is damaged (batches.ts)
//   mutated      a valid frame with 1-3 mutations (mutate.ts), or of an API or version not advertised
//   truncated    a valid frame cut short, its size prefix saying so
//   random       random bytes with a plausible size prefix (half of them behind a plausible header)
//   cut          the part of a frame written before the connection is dropped
import type { Message } from '../../scripts/generate-protocol.js';
import { beginRequestFrame, finishFrame } from '../../src/protocol/frame.js';
import { apiCodecs, ApiKey, type ApiCodec } from '../../src/protocol/generated/index.js';
import { Random } from '../support/random.js';
import { mutateFrame, RecordingWriter, truncateFrame, type Mark, type MutationLimits } from './mutate.js';
import { randomRequestBody, type FillContext } from './values.js';
import { namePoolsFor, type NamePools } from './vocabulary.js';

export const FRAME_KINDS = ['valid', 'bad-batch', 'mutated', 'truncated', 'random', 'cut'] as const;
export type FrameKind = (typeof FRAME_KINDS)[number];
export const UNIT_TYPES = ['single', 'pipeline', 'split', 'cut', 'idle', 'reconnect'] as const;
export type UnitType = (typeof UNIT_TYPES)[number];

export interface Frame {
  kind: FrameKind;
  apiKey: number;
  version: number;
  bytes: Buffer;
  /** Whether the broker must answer it (a request it can read; not Produce with acks=0). */
  answered: boolean;
  /** What was done to it: mutation ops, batch damages, 'duplicate-entries', 'unadvertised'. */
  ops: string[];
}

export type Unit =
  | { type: 'single' | 'pipeline'; frames: Frame[] }
  | { type: 'split'; frames: Frame[]; cuts: number[] }
  | { type: 'cut'; frames: Frame[]; keep: number; halfClose: boolean }
  | { type: 'idle'; bytes: Buffer; holdMs: number }
  | { type: 'reconnect' };

/** An API the broker advertised in ApiVersions, with the schema and codec to build its requests. */
export interface FuzzApi {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
  message: Message;
  codec: ApiCodec;
}

export interface FrameSourceOptions {
  seed: number;
  slot: number;
  /** Frames this slot sends in all; Infinity to run until stopped. */
  frames: number;
  apis: readonly FuzzApi[];
  /** APIs with a codec that the broker did not advertise (their frames must close the connection). */
  unadvertised: readonly FuzzApi[];
  topicIds: ReadonlyMap<string, Buffer>;
  limits: MutationLimits;
}

/** The slot's own seed: the run's seed mixed with the slot number. */
export function slotSeed(seed: number, slot: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) ^ Math.imul(slot + 1, 0x9e3779b1)) >>> 0;
}

function pickWeighted<T>(random: Random, table: ReadonlyArray<readonly [T, number]>): T {
  let total = 0;
  for (const [, weight] of table) total += weight;
  let roll = random.int(0, total - 1);
  for (const [value, weight] of table) {
    if (roll < weight) return value;
    roll -= weight;
  }
  return table[table.length - 1]![0];
}

const UNIT_WEIGHTS: ReadonlyArray<readonly [UnitType, number]> = [
  ['single', 38],
  ['pipeline', 36],
  ['split', 14],
  ['cut', 6],
  ['idle', 3],
  ['reconnect', 3],
];

type SingleKind = 'valid' | 'mutated' | 'truncated' | 'random' | 'unadvertised';
const SINGLE_WEIGHTS: ReadonlyArray<readonly [SingleKind, number]> = [
  ['valid', 45],
  ['mutated', 33],
  ['truncated', 7],
  ['random', 12],
  ['unadvertised', 3],
];
/** Attempts at filling a body the encoder accepts before the frame is sent as random bytes instead. */
const ENCODE_ATTEMPTS = 5;

export class FrameSource {
  private readonly random: Random;
  private remaining: number;
  private correlationId = 0;
  private readonly pools = new Map<number, NamePools>();
  /** Bodies the encoder refused (an edge value out of a field's range), retried with a new fill. */
  encodeRetries = 0;

  constructor(private readonly options: FrameSourceOptions) {
    this.random = new Random(slotSeed(options.seed, options.slot));
    this.remaining = options.frames;
    for (const api of [...options.apis, ...options.unadvertised])
      this.pools.set(api.apiKey, namePoolsFor(api.apiKey, options.topicIds));
  }

  /** Frames this slot has yet to send. */
  get framesLeft(): number {
    return this.remaining;
  }

  /** The next unit, or null when the slot's frames are all sent. */
  next(): Unit | null {
    if (this.remaining <= 0) return null;
    const random = this.random;
    const type = pickWeighted(random, UNIT_WEIGHTS);
    switch (type) {
      case 'single':
        return { type, frames: [this.take(this.frameOf(pickWeighted(random, SINGLE_WEIGHTS)))] };
      case 'pipeline':
        return { type, frames: this.pipeline() };
      case 'split': {
        const frames = this.several(random.int(1, 5), 0.7);
        const total = frames.reduce((sum, f) => sum + f.bytes.length, 0);
        const cuts = new Set<number>();
        for (let i = random.int(1, 7); i > 0; i--) cuts.add(random.int(1, Math.max(1, total - 1)));
        return { type, frames, cuts: [...cuts].sort((a, b) => a - b) };
      }
      case 'cut': {
        const frames = this.several(random.int(1, 3), 0.8);
        const last = frames[frames.length - 1]!;
        last.kind = 'cut';
        last.answered = false;
        return { type, frames, keep: random.int(0, last.bytes.length - 1), halfClose: random.chance(0.3) };
      }
      case 'idle': {
        const frame = this.valid(random.pick(this.options.apis));
        const bytes = frame.bytes.subarray(0, random.pick([0, 1, 2, 3, 4, 6, 10]));
        return { type, bytes: Buffer.from(bytes), holdMs: random.int(100, 2000) };
      }
      case 'reconnect':
        return { type };
    }
  }

  private take(frame: Frame): Frame {
    this.remaining--;
    return frame;
  }

  /** `count` frames (fewer if the budget ends), each valid with probability `validShare`. */
  private several(count: number, validShare: number): Frame[] {
    const frames: Frame[] = [];
    for (let i = 0; i < count && this.remaining > 0; i++) {
      const kind = this.random.chance(validShare) ? 'valid' : pickWeighted(this.random, SINGLE_WEIGHTS);
      frames.push(this.take(this.frameOf(kind)));
    }
    return frames;
  }

  private pipeline(): Frame[] {
    const random = this.random;
    const apis = this.options.apis;
    // A flood (a tenth of pipelines) repeats one API and version: handlers that answer at once, back to
    // back. A tenth of floods are the issue's own: 1 500-4 000 ApiVersions v0 (14 bytes each) in one
    // write, which a re-entrant pump turns into stack depth. (Together about a third of all frames.)
    const apiVersions = apis.find((a) => a.apiKey === ApiKey.ApiVersions);
    let flood: { api: FuzzApi; version: number; clientId?: null } | null = null;
    let length: number;
    if (random.chance(0.1)) {
      const classic = apiVersions !== undefined && random.chance(0.1);
      const api = classic ? apiVersions : random.pick(apis);
      flood = classic
        ? { api, version: 0, clientId: null }
        : { api, version: random.int(api.minVersion, api.maxVersion) };
      length = classic ? random.int(1500, 4000) : random.int(2, 500);
    } else {
      const roll = random.int(0, 99);
      length = roll < 75 ? random.int(2, 10) : roll < 98 ? random.int(11, 100) : random.int(500, 3000);
    }
    const frames: Frame[] = [];
    for (let i = 0; i < length && this.remaining > 0; i++) {
      frames.push(
        this.take(flood ? this.valid(flood.api, flood.version, flood.clientId) : this.valid(random.pick(apis))),
      );
    }
    // Now and then the last one is bad (the broker then closes the connection and may drop the answers
    // still in flight; the frames before it were handled all the same).
    if (frames.length > 1 && random.chance(0.2)) {
      frames[frames.length - 1] = this.frameOf(pickWeighted(random, SINGLE_WEIGHTS.slice(1)));
    }
    return frames;
  }

  private frameOf(kind: SingleKind): Frame {
    const random = this.random;
    switch (kind) {
      case 'valid':
        return this.valid(random.pick(this.options.apis));
      case 'mutated': {
        const api = random.pick(this.options.apis);
        const { frame, marks } = this.encoded(api, random.int(api.minVersion, api.maxVersion));
        const pools = this.pools.get(api.apiKey)!;
        const { bytes, ops } = mutateFrame(random, frame.bytes, marks, pools.readOnly, this.options.limits);
        return { ...frame, kind: 'mutated', bytes, answered: false, ops: [...frame.ops, ...ops] };
      }
      case 'truncated': {
        const frame = this.valid(random.pick(this.options.apis));
        return { ...frame, kind: 'truncated', bytes: truncateFrame(random, frame.bytes), answered: false };
      }
      case 'random':
        return this.randomFrame();
      case 'unadvertised':
        return this.unadvertised();
    }
  }

  private valid(
    api: FuzzApi,
    version = this.random.int(api.minVersion, api.maxVersion),
    clientId?: string | null,
  ): Frame {
    return this.encoded(api, version, clientId).frame;
  }

  private encoded(api: FuzzApi, version: number, fixedClientId?: string | null): { frame: Frame; marks: Mark[] } {
    const random = this.random;
    const pools = this.pools.get(api.apiKey)!;
    for (let attempt = 0; ; attempt++) {
      const context: FillContext = { random, version, pools, damages: [], duplicated: false };
      const body = randomRequestBody(api.message, context);
      const writer = new RecordingWriter();
      const clientId =
        fixedClientId !== undefined ? fixedClientId : random.pick(['fuzz', 'fuzz', 'fuzz', null, '', 'c'.repeat(300)]);
      const frame = beginRequestFrame(api.apiKey, version, this.correlationId++, clientId, writer);
      try {
        api.codec.encodeRequest(version, body, writer);
      } catch (error) {
        this.encodeRetries++;
        if (attempt + 1 >= ENCODE_ATTEMPTS) throw error;
        continue;
      }
      const bytes = Buffer.concat(finishFrame(frame));
      const ops: string[] = [...context.damages];
      if (context.duplicated) ops.push('duplicate-entries');
      const acksZero = api.apiKey === ApiKey.Produce && body['acks'] === 0;
      return {
        frame: {
          kind: context.damages.length > 0 ? 'bad-batch' : 'valid',
          apiKey: api.apiKey,
          version,
          bytes,
          answered: !acksZero,
          ops,
        },
        marks: writer.marks,
      };
    }
  }

  private randomFrame(): Frame {
    const random = this.random;
    const roll = random.int(0, 99);
    const length =
      roll < 30
        ? random.int(0, 16)
        : roll < 80
          ? random.int(17, 200)
          : roll < 98
            ? random.int(201, 4096)
            : random.int(4097, 65536);
    const body = random.bytes(length);
    let apiKey = -1;
    let version = -1;
    if (length >= 4 && random.chance(0.5)) {
      // A plausible header in front of random bytes: the body decoder of a real API sees them.
      const api = random.pick(this.options.apis);
      apiKey = api.apiKey;
      version = random.int(api.minVersion, api.maxVersion);
      body.writeInt16BE(apiKey, 0);
      body.writeInt16BE(version, 2);
    }
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(random.chance(0.9) ? length : random.int(-1, length + 100));
    return { kind: 'random', apiKey, version, bytes: Buffer.concat([prefix, body]), answered: false, ops: [] };
  }

  private unadvertised(): Frame {
    const random = this.random;
    const { unadvertised, apis } = this.options;
    // Either an API the broker does not serve, or a served API one version past its newest.
    if (unadvertised.length > 0 && random.chance(0.5)) {
      const api = random.pick(unadvertised);
      const frame = this.encoded(api, random.int(api.codec.requestVersions.min, api.codec.requestVersions.max)).frame;
      return { ...frame, kind: 'mutated', answered: false, ops: [...frame.ops, 'unadvertised-api'] };
    }
    const beyond = apis.filter((a) => a.maxVersion < a.codec.requestVersions.max);
    if (beyond.length === 0) return this.randomFrame();
    const api = random.pick(beyond);
    const frame = this.encoded(api, api.maxVersion + 1).frame;
    // ApiVersions newer than served is answered (KIP-511); everything else closes the connection.
    return { ...frame, kind: 'mutated', answered: false, ops: [...frame.ops, 'unadvertised-version'] };
  }
}

/**
 * Every API the broker advertised, clamped to the versions our codec can encode; the advertised
 * versions no codec covers (Produce v0-2: advertised for old clients and refused, as Kafka 4 does);
 * and the codecs of APIs the broker did not advertise.
 */
export function fuzzApis(
  advertised: ReadonlyArray<{ apiKey: number; minVersion: number; maxVersion: number }>,
  messages: ReadonlyMap<number, Message>,
): { apis: FuzzApi[]; unadvertised: FuzzApi[]; missing: string[] } {
  const apis: FuzzApi[] = [];
  const missing: string[] = [];
  for (const a of advertised) {
    const codec = apiCodecs.get(a.apiKey);
    const message = messages.get(a.apiKey);
    if (!codec || !message) {
      missing.push(`api ${a.apiKey} v${a.minVersion}-${a.maxVersion}`);
      continue;
    }
    const minVersion = Math.max(a.minVersion, codec.requestVersions.min);
    const maxVersion = Math.min(a.maxVersion, codec.requestVersions.max);
    if (minVersion > a.minVersion) missing.push(`${codec.apiName} v${a.minVersion}-${minVersion - 1}`);
    if (maxVersion < a.maxVersion) missing.push(`${codec.apiName} v${maxVersion + 1}-${a.maxVersion}`);
    if (minVersion <= maxVersion) apis.push({ apiKey: a.apiKey, minVersion, maxVersion, codec, message });
  }
  const served = new Set(advertised.map((a) => a.apiKey));
  const unadvertised: FuzzApi[] = [];
  for (const [apiKey, codec] of apiCodecs) {
    const message = messages.get(apiKey);
    if (served.has(apiKey) || !message) continue;
    unadvertised.push({
      apiKey,
      minVersion: codec.requestVersions.min,
      maxVersion: codec.requestVersions.max,
      codec,
      message,
    });
  }
  return { apis, unadvertised, missing };
}
