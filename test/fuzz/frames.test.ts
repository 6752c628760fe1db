// The fuzzer's frame stream without a broker: a seed replays byte for byte, slots differ, every
// request version of every generated codec gets well-formed frames the codec itself decodes back, and
// every unit type, frame kind and mutation shows up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPaths, loadSchemas } from '../../scripts/generate-protocol.js';
import { decodeRequestHeader } from '../../src/protocol/frame.js';
import { apiCodecs } from '../../src/protocol/generated/index.js';
import { BATCH_DAMAGES } from './batches.js';
import { FRAME_KINDS, FrameSource, fuzzApis, UNIT_TYPES, type Frame, type Unit } from './frames.js';
import { MUTATIONS } from './mutate.js';

const messages = new Map(loadSchemas(defaultPaths().schemaDir).apis.map((api) => [api.apiKey, api.request]));
// As if the broker advertised every version of every API we have a codec for.
const everything = [...apiCodecs.values()].map((codec) => ({
  apiKey: codec.apiKey,
  minVersion: codec.requestVersions.min,
  maxVersion: codec.requestVersions.max,
}));
const { apis } = fuzzApis(everything, messages);
const limits = { requestBytesMax: 100 * 1024 * 1024 };

function source(seed: number, slot: number, frames: number, advertised = apis, unadvertised = apis.slice(0, 0)) {
  return new FrameSource({ seed, slot, frames, apis: advertised, unadvertised, topicIds: new Map(), limits });
}

function framesOf(unit: Unit): Frame[] {
  return 'frames' in unit ? unit.frames : [];
}

function drain(s: FrameSource): Unit[] {
  const units: Unit[] = [];
  for (let unit = s.next(); unit; unit = s.next()) units.push(unit);
  return units;
}

test('a seed and slot replay the same units, byte for byte; another slot or seed differs', () => {
  const bytes = (units: Unit[]) => Buffer.concat(units.flatMap((u) => framesOf(u).map((f) => f.bytes)));
  const first = drain(source(7, 0, 3000));
  const again = drain(source(7, 0, 3000));
  assert.deepEqual(
    first.map((u) => u.type),
    again.map((u) => u.type),
  );
  assert.ok(bytes(first).equals(bytes(again)));
  assert.ok(!bytes(first).equals(bytes(drain(source(7, 1, 3000)))));
  assert.ok(!bytes(first).equals(bytes(drain(source(8, 0, 3000)))));
});

test('a slot sends exactly its share of frames', () => {
  const units = drain(source(3, 2, 12_345));
  assert.equal(
    units.reduce((sum, u) => sum + framesOf(u).length, 0),
    12_345,
  );
});

test('every request version of every codec gets well-formed frames that decode back', () => {
  for (const api of apis) {
    // One API at a time, until every version was sent (a flood may take a few thousand frames of one).
    const s = source(11, api.apiKey, 50_000, [api]);
    const versions = new Set<number>();
    const all = api.maxVersion - api.minVersion + 1;
    for (let unit = s.next(); unit && versions.size < all; unit = s.next()) {
      for (const frame of framesOf(unit)) {
        if (frame.kind !== 'valid' && frame.kind !== 'bad-batch') continue;
        const { header, bodyOffset } = decodeRequestHeader(frame.bytes, 4);
        assert.equal(header.requestApiKey, api.apiKey);
        assert.equal(frame.bytes.readInt32BE(0), frame.bytes.length - 4);
        api.codec.decodeRequest(header.requestApiVersion, frame.bytes, bodyOffset);
        versions.add(header.requestApiVersion);
      }
    }
    for (let v = api.minVersion; v <= api.maxVersion; v++)
      assert.ok(versions.has(v), `${api.codec.apiName} v${v} never sent`);
  }
});

test('every unit type, frame kind, mutation and batch damage occurs', () => {
  // Advertised one version short of the codec, so "one version past the newest" can be sent.
  const advertised = apis.map((a) => ({ ...a, maxVersion: Math.max(a.minVersion, a.maxVersion - 1) }));
  const wanted = new Set<string>([
    ...UNIT_TYPES.map((t) => `unit ${t}`),
    ...FRAME_KINDS.map((k) => `kind ${k}`),
    ...[...MUTATIONS, ...BATCH_DAMAGES, 'duplicate-entries', 'unadvertised-api', 'unadvertised-version'].map(
      (op) => `op ${op}`,
    ),
  ]);
  const s = source(5, 0, 500_000, advertised, apis.slice(-3));
  for (let unit = s.next(); unit && wanted.size > 0; unit = s.next()) {
    wanted.delete(`unit ${unit.type}`);
    for (const frame of framesOf(unit)) {
      wanted.delete(`kind ${frame.kind}`);
      for (const op of frame.ops) wanted.delete(`op ${op}`);
    }
  }
  assert.deepEqual([...wanted], [], 'never made');
});
