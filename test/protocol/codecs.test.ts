// Round-trip and fuzz tests for every generated codec: every API, both directions, every version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPaths, loadSchemas, type Field, type Message, type Struct } from '../../scripts/generate-protocol.js';
import * as generated from '../../src/protocol/generated/index.js';
import { DecodeError } from '../../src/protocol/errors.js';
import { ByteWriter } from '../../src/protocol/primitives/byte-writer.js';
import { Random, withSeed } from '../support/random.js';

const { apis, standalone } = loadSchemas(defaultPaths().schemaDir);
const modules = generated as unknown as Record<string, Record<string, unknown>>;

type Codec = {
  label: string;
  message: Message;
  encode: (version: number, value: unknown, w?: ByteWriter) => ByteWriter;
  decode: (version: number, buffer: Buffer) => unknown;
  create: Record<string, () => unknown>; // struct type name -> default factory
};

function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function codecsOf(): Codec[] {
  const codecs: Codec[] = [];
  for (const api of apis) {
    const mod = modules[camel(api.name)]!;
    const create = factories(mod);
    codecs.push({
      label: `${api.name}Request`,
      message: api.request,
      encode: mod.encodeRequest as Codec['encode'],
      decode: mod.decodeRequest as Codec['decode'],
      create,
    });
    codecs.push({
      label: `${api.name}Response`,
      message: api.response,
      encode: mod.encodeResponse as Codec['encode'],
      decode: mod.decodeResponse as Codec['decode'],
      create,
    });
  }
  for (const s of standalone) {
    const mod = modules[camel(s.message.raw.name)]!;
    codecs.push({
      label: s.message.raw.name,
      message: s.message,
      encode: mod.encodeMessage as Codec['encode'],
      decode: mod.decodeMessage as Codec['decode'],
      create: factories(mod),
    });
  }
  return codecs;
}

function factories(mod: Record<string, unknown>): Record<string, () => unknown> {
  const out: Record<string, () => unknown> = {};
  for (const [name, value] of Object.entries(mod))
    if (name.startsWith('create') && typeof value === 'function') out[name.slice(6)] = value as () => unknown;
  return out;
}

const inRange = (v: number, r: { min: number; max: number }) => v >= r.min && v <= r.max;

function defaultOf(field: Field, codec: Codec): unknown {
  const d = field.defaultText;
  if (d === 'null') return null;
  if (field.isArray) return [];
  switch (field.elementType) {
    case 'bool':
      return d === true || d === 'true';
    case 'int64':
      return d === undefined || d === '' ? 0n : BigInt(d as string);
    case 'string':
      return d === undefined ? '' : String(d);
    case 'bytes':
    case 'records':
      return Buffer.alloc(0);
    case 'uuid':
      return Buffer.alloc(16);
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'float64':
      return d === undefined || d === '' ? 0 : Number(d);
    default:
      return codec.create[field.elementType]!();
  }
}

function randomString(random: Random): string {
  const alphabet = ['a', 'b', 'z', '-', '_', '.', '0', 'é', '字', '😀'];
  let s = '';
  for (let i = random.int(0, 12); i > 0; i--) s += random.pick(alphabet);
  return s;
}

function randomElement(field: Field, version: number, codec: Codec, random: Random, depth: number): unknown {
  switch (field.elementType) {
    case 'bool':
      return random.chance(0.5);
    case 'int8':
      return random.int(-128, 127);
    case 'int16':
      return random.int(-32768, 32767);
    case 'uint16':
      return random.int(0, 65535);
    case 'int32':
      return random.int(-(2 ** 31), 2 ** 31 - 1);
    case 'int64':
      return BigInt.asIntN(64, (BigInt(random.next()) << 32n) | BigInt(random.next()));
    case 'float64':
      return (random.next() - 2 ** 31) / 7;
    case 'string':
      return randomString(random);
    case 'bytes':
    case 'records':
      return random.bytes(random.int(0, 40));
    case 'uuid':
      return random.bytes(16);
    default:
      return randomStruct(field.struct!, version, codec, random, depth + 1);
  }
}

function randomValue(field: Field, version: number, codec: Codec, random: Random, depth: number): unknown {
  if (inRange(version, field.nullable) && random.chance(0.2)) return null;
  if (field.isArray) {
    const count = depth > 4 ? 0 : random.int(0, 3);
    return Array.from({ length: count }, () => randomElement(field, version, codec, random, depth));
  }
  return randomElement(field, version, codec, random, depth);
}

function randomStruct(
  struct: Struct,
  version: number,
  codec: Codec,
  random: Random,
  depth: number,
): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of struct.fields) {
    value[field.property] = inRange(version, field.versions)
      ? randomValue(field, version, codec, random, depth)
      : defaultOf(field, codec);
  }
  return value;
}

function versionsOf(message: Message): number[] {
  const out: number[] = [];
  for (let v = message.valid.min; v <= message.valid.max; v++) out.push(v);
  return out;
}

const codecs = codecsOf();

test('every API of api-versions.md Table B and the share-group APIs have a codec', () => {
  const keys = [
    0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 32, 33, 36, 37, 42,
    44, 60, 76, 78, 79,
  ];
  for (const key of keys) assert.ok(generated.apiCodecs.has(key), `API key ${key} has no codec`);
  assert.equal(generated.apiCodecs.get(1)!.apiName, 'Fetch');
  assert.deepEqual(generated.apiCodecs.get(0)!.requestVersions, { min: 3, max: 13 });
});

for (const codec of codecs) {
  test(`${codec.label}: random values round-trip in every version`, () => {
    withSeed(codec.label, (random) => {
      for (const version of versionsOf(codec.message)) {
        for (let iteration = 0; iteration < 25; iteration++) {
          const value = randomStruct(codec.message.root, version, codec, random, 0);
          const bytes = codec.encode(version, value).toBuffer();
          const decoded = codec.decode(version, bytes);
          assert.deepStrictEqual(decoded, value, `v${version} iteration ${iteration}`);
          const again = codec.encode(version, decoded).toBuffer();
          assert.equal(again.length, bytes.length, `v${version}: re-encoded length`);
          assert.ok(again.equals(bytes), `v${version}: re-encoded bytes differ`);
        }
      }
    });
  });

  test(`${codec.label}: random and mutated bytes raise only DecodeError`, () => {
    withSeed(codec.label + ' fuzz', (random) => {
      for (const version of versionsOf(codec.message)) {
        const valid = codec.encode(version, randomStruct(codec.message.root, version, codec, random, 0)).toBuffer();
        for (let iteration = 0; iteration < 60; iteration++) {
          let input: Buffer;
          const kind = iteration % 4;
          if (kind === 0) input = random.bytes(random.int(0, 64));
          else if (kind === 1) input = valid.subarray(0, random.int(0, Math.max(0, valid.length - 1)));
          else {
            input = Buffer.from(valid);
            for (let flips = random.int(1, 4); flips > 0 && input.length > 0; flips--)
              input[random.int(0, input.length - 1)] = random.next() & 0xff;
            if (kind === 3 && input.length > 4)
              input.writeInt32BE(random.pick([0x7fffffff, -2, -1000, 0x10000000]), random.int(0, input.length - 4));
          }
          try {
            codec.decode(version, input);
          } catch (error) {
            if (!(error instanceof DecodeError)) throw error;
            assert.equal(error.version, version);
            assert.ok(error.api.length > 0);
          }
        }
      }
    });
  });
}

test('a truncated body names the API, version and field path', () => {
  const body = generated.fetch
    .encodeRequest(11, {
      maxWaitMs: 500,
      topics: [{ topic: 'orders', partitions: [{ partition: 3, fetchOffset: 42n }] }],
    })
    .toBuffer();
  assert.throws(
    () => generated.fetch.decodeRequest(11, body.subarray(0, body.length - 6)),
    (error: unknown) => {
      assert.ok(error instanceof DecodeError);
      assert.equal(error.api, 'FetchRequest');
      assert.equal(error.version, 11);
      assert.equal(error.path, 'forgottenTopicsData');
      return true;
    },
  );
});

test('a huge array count is rejected before anything is allocated', () => {
  // Metadata v4 body: topics array count 0x7fffffff, then nothing.
  const body = Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x01]);
  assert.throws(() => generated.metadata.decodeRequest(4, body), /array count 2147483647 larger than the 1 bytes left/);
});

test('a negative string length and an unterminated varint are decode errors', () => {
  // DeleteGroups v0: groups array with one string of length -5.
  assert.throws(() => generated.deleteGroups.decodeRequest(0, Buffer.from([0, 0, 0, 1, 0xff, 0xfb])), DecodeError);
  // DeleteGroups v2 (flexible): compact array count is an unterminated varint.
  assert.throws(() => generated.deleteGroups.decodeRequest(2, Buffer.from([0x80, 0x80, 0x80])), /unterminated varint/);
});

test('a huge bytes length cannot allocate more than the bytes present', () => {
  // SaslAuthenticate v0: authBytes with length 1 GiB but 3 bytes present.
  const body = Buffer.from([0x40, 0, 0, 0, 1, 2, 3]);
  assert.throws(() => generated.saslAuthenticate.decodeRequest(0, body), /needs 1073741824 bytes, 3 left/);
});

test('unknown tagged fields are skipped', () => {
  // Heartbeat v4 request (flexible) with an extra tagged field 99 of 3 bytes at the end.
  const plain = generated.heartbeat.encodeRequest(4, { groupId: 'g', generationId: 7, memberId: 'm' }).toBuffer();
  const withTag = Buffer.concat([plain.subarray(0, plain.length - 1), Buffer.from([1, 99, 3, 0xaa, 0xbb, 0xcc])]);
  assert.deepEqual(generated.heartbeat.decodeRequest(4, withTag), generated.heartbeat.decodeRequest(4, plain));
});

test('known tagged fields are written only when not default, and read back', () => {
  const withoutFeatures = generated.apiVersions.encodeResponse(3, { apiKeys: [] }).toBuffer();
  const withFeatures = generated.apiVersions.encodeResponse(3, { apiKeys: [], finalizedFeaturesEpoch: 5n }).toBuffer();
  assert.ok(withFeatures.length > withoutFeatures.length);
  assert.equal(generated.apiVersions.decodeResponse(3, withFeatures).finalizedFeaturesEpoch, 5n);
  assert.equal(generated.apiVersions.decodeResponse(3, withoutFeatures).finalizedFeaturesEpoch, -1n);
});

test('a non-ignorable field set in a version without it is an encode error; ignorable ones are dropped', () => {
  // Fetch: ForgottenTopicsData (7+) is not ignorable; RackId (11+) is ignorable.
  assert.throws(
    () => generated.fetch.encodeRequest(6, { forgottenTopicsData: [{ topic: 't', partitions: [1] }] }),
    /not supported in this version/,
  );
  const v6 = generated.fetch.encodeRequest(6, { rackId: 'rack-1' }).toBuffer();
  assert.equal(generated.fetch.decodeRequest(6, v6).rackId, '');
});

test('records fields are slices of the input, not copies', () => {
  const records = Buffer.alloc(100, 7);
  const body = generated.produce
    .encodeRequest(7, { acks: -1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records }] }] })
    .toBuffer();
  const decoded = generated.produce.decodeRequest(7, body);
  const slice = decoded.topicData[0]!.partitionData[0]!.records!;
  assert.equal(slice.buffer, body.buffer);
  assert.ok(slice.equals(records));
});

test('large byte fields are referenced by the writer, not copied', () => {
  const records = Buffer.alloc(64 * 1024, 1);
  const w = new ByteWriter();
  generated.fetch.encodeResponse(11, { responses: [{ topic: 't', partitions: [{ partitionIndex: 0, records }] }] }, w);
  assert.ok(w.chunks().some((chunk) => chunk === records));
});
