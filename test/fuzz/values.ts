// Random but plausible request bodies, for every API and version, from the resolved schemas
// (scripts/generate-protocol.ts: loadSchemas): one value per field the version has, chosen by the
// field's name and type so requests get past the first lookup — partitions 0-4, offsets near the
// log, the fuzzer's topics, groups and transactional ids (vocabulary.ts), real config names, record
// batches from batches.ts — with the edge values mixed in (-1, 0, boundaries, empty and null).
//
// A value depends only on the Random passed in, so a seed always fills the same bodies; the only
// exception is a topic id, which is whatever the broker assigned to that topic in this run.
import type { Field, Message, Struct, VersionRange } from '../../scripts/generate-protocol.js';
import { encodeMessage as encodeAssignment } from '../../src/protocol/generated/consumer-protocol-assignment.js';
import { encodeMessage as encodeSubscription } from '../../src/protocol/generated/consumer-protocol-subscription.js';
import { ZERO_UUID } from '../../src/protocol/primitives/helpers.js';
import type { Random } from '../support/random.js';
import { randomRecords, TIMESTAMP_BASE_MS, type BatchDamage } from './batches.js';
import { CONFIG_NAMES, CONFIG_VALUES, type NamePools } from './vocabulary.js';

export interface FillContext {
  random: Random;
  version: number;
  pools: NamePools;
  /** Damages of the record batches put into this body (batches.ts). */
  damages: BatchDamage[];
  /** Whether an array was given a duplicate element on purpose. */
  duplicated: boolean;
}

/** Structs nested deeper than this get empty arrays (no schema nests this deep; a guard, not a limit). */
const DEPTH_MAX = 8;

function inRange(range: VersionRange, version: number): boolean {
  return version >= range.min && version <= range.max;
}

function short(random: Random): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz0123456789-._';
  let out = '';
  const length = random.pick([0, 1, 3, 8, 20]);
  for (let i = 0; i < length; i++) out += letters[random.int(0, letters.length - 1)];
  return out;
}

/** One of `values`, or now and then an edge value of the type instead. */
function plausibleInt(random: Random, values: readonly number[], edges: readonly number[]): number {
  return random.chance(0.9) ? random.pick(values) : random.pick(edges);
}

const INT8_EDGES = [-128, -1, 0, 127];
const INT16_EDGES = [-32768, -1, 0, 32767];
const INT32_EDGES = [-2147483648, -2, -1, 0, 2147483647];
const INT64_EDGES = [-(2n ** 63n), -3n, -2n, -1n, 0n, 2n ** 63n - 1n, 2n ** 53n];

function int8For(field: Field, random: Random): number {
  switch (field.property) {
    case 'isolationLevel':
      return plausibleInt(random, [0, 1], INT8_EDGES);
    case 'resourceType':
      return plausibleInt(random, [2, 2, 2, 4, 0, 1], INT8_EDGES);
    case 'configOperation':
      return plausibleInt(random, [0, 1, 2, 3], INT8_EDGES);
    case 'keyType':
      return plausibleInt(random, [0, 1, 2], INT8_EDGES);
    default:
      return plausibleInt(random, [0, 1, 2], INT8_EDGES);
  }
}

function int16For(field: Field, random: Random): number {
  switch (field.property) {
    case 'acks':
      return plausibleInt(random, [-1, -1, 1, 1, 0], INT16_EDGES);
    case 'producerEpoch':
    case 'v3AndBelowProducerEpoch':
      return plausibleInt(random, [-1, 0, 0, 1, 2], INT16_EDGES);
    case 'replicationFactor':
      return plausibleInt(random, [-1, -1, 1, 3], INT16_EDGES);
    default:
      return plausibleInt(random, [0, 1, -1], INT16_EDGES);
  }
}

function int32For(field: Field, random: Random): number {
  const p = field.property;
  if (/^partition|^index$|^partitions$/.test(p)) return plausibleInt(random, [0, 0, 1, 2, 3, 4, -1, 99], INT32_EDGES);
  switch (p) {
    case 'count':
      return plausibleInt(random, [1, 2, 3, 4, 6, 8], INT32_EDGES);
    case 'numPartitions':
      return plausibleInt(random, [-1, 1, 1, 2, 3, 0], INT32_EDGES);
    case 'maxWaitMs':
      return plausibleInt(random, [0, 0, 1, 10, 50, 100], INT32_EDGES);
    case 'minBytes':
      return plausibleInt(random, [0, 1, 1, 100, 65536], INT32_EDGES);
    case 'maxBytes':
    case 'partitionMaxBytes':
      return plausibleInt(random, [0, 1, 100, 65536, 1048576, 52428800], INT32_EDGES);
    case 'timeoutMs':
      return plausibleInt(random, [0, 10, 100, 1000, 5000], INT32_EDGES);
    case 'sessionTimeoutMs':
      return plausibleInt(random, [6000, 10000, 30000, 45000, 100, 3_600_000], INT32_EDGES);
    case 'rebalanceTimeoutMs':
      return plausibleInt(random, [100, 500, 1000, 3000, -1], INT32_EDGES);
    case 'transactionTimeoutMs':
      return plausibleInt(random, [100, 1000, 10000, 60000, 900001], INT32_EDGES);
    case 'generationId':
    case 'generationIdOrMemberEpoch':
    case 'memberEpoch':
      return plausibleInt(random, [-1, 0, 1, 2, 5], INT32_EDGES);
    case 'replicaId':
      return plausibleInt(random, [-1, -1, -1, 0, 1, -2], INT32_EDGES);
    case 'brokerIds':
      return plausibleInt(random, [0, 0, 1, -1], INT32_EDGES);
    case 'sessionId':
      return plausibleInt(random, [0, 0, 0, 1, 12345], INT32_EDGES);
    case 'sessionEpoch':
    case 'shareSessionEpoch':
      return plausibleInt(random, [-1, 0, 0, 1], INT32_EDGES);
    default:
      return plausibleInt(random, [-1, 0, 1, 2], INT32_EDGES);
  }
}

function int64For(field: Field, random: Random): bigint {
  const edge = (): bigint => random.pick(INT64_EDGES);
  if (random.chance(0.1)) return edge();
  switch (field.property) {
    case 'timestamp':
      return random.pick([-1n, -2n, -3n, -4n, -5n, BigInt(TIMESTAMP_BASE_MS + random.int(-1000, 3_700_000))]);
    case 'producerId':
    case 'v3AndBelowProducerId':
    case 'producerIdFilters':
      return BigInt(random.pick([-1, 0, 1, 2, 3, 5, 8, 12]));
    case 'retentionTimeMs':
    case 'durationFilter':
      return BigInt(random.pick([-1, 0, 1000, 86_400_000]));
    default:
      // Offsets of every kind: near the start of a small log, its end, or the special -1/-2.
      return BigInt(random.pick([0, 0, 1, 2, 5, 10, 50, 200, -1, -2]));
  }
}

/** What a string field names, decided by its name and the struct it is in. */
function stringFor(field: Field, struct: Struct, filled: Record<string, unknown>, context: FillContext): string {
  const { random, pools } = context;
  const p = field.property;
  if (/Config/.test(struct.typeName) && p === 'name') return random.pick(CONFIG_NAMES);
  if (/Config/.test(struct.typeName) && p === 'value') return random.pick(CONFIG_VALUES);
  if (p === 'configurationKeys') return random.pick(CONFIG_NAMES);
  if (/Protocol$/.test(struct.typeName) && p === 'name')
    return random.pick(['range', 'roundrobin', 'cooperative-sticky', 'sticky', short(random)]);
  switch (p) {
    case 'name':
    case 'topic':
    case 'topicNames':
    case 'subscribedTopicNames':
      return random.pick(pools.topics);
    case 'resourceName':
      return filled['resourceType'] === 2 || random.chance(0.2)
        ? random.pick(pools.topics)
        : random.pick(['0', '1', '']);
    case 'groupId':
    case 'groups':
    case 'groupsNames':
      return random.pick(pools.groups);
    case 'key':
    case 'coordinatorKeys':
      return random.chance(0.5) ? random.pick(pools.groups) : random.pick(pools.transactionalIds);
    case 'transactionalId':
    case 'transactionalIds':
    case 'v3AndBelowTransactionalId':
      return random.pick(pools.transactionalIds);
    case 'memberId':
      return random.pick(['', '', 'member-0', 'member-1', short(random)]);
    case 'groupInstanceId':
      return random.pick(['instance-0', 'instance-1', short(random)]);
    case 'protocolType':
      return random.pick(['consumer', 'consumer', 'connect', '']);
    case 'protocolName':
      return random.pick(['range', 'roundrobin', '']);
    case 'clientSoftwareName':
    case 'clientSoftwareVersion':
      return random.pick(['fuzz', '1.0.0', '', 'bad name!', 'x'.repeat(300)]);
    case 'statesFilter':
    case 'stateFilters':
      return random.pick(['Stable', 'Empty', 'Ongoing', 'CompleteCommit', 'Dead', 'nonsense']);
    case 'typesFilter':
      return random.pick(['classic', 'consumer', 'share', 'nonsense']);
    default:
      return short(random);
  }
}

function bytesFor(field: Field, context: FillContext): Buffer {
  const { random, pools } = context;
  if (field.property === 'metadata' && random.chance(0.8)) {
    const body = encodeSubscription(random.int(0, 1), {
      topics: [random.pick(pools.topics), random.pick(pools.topics)],
      userData: random.chance(0.2) ? random.bytes(4) : null,
    }).toBuffer();
    return Buffer.concat([Buffer.from([0, random.int(0, 1)]), body]);
  }
  if (field.property === 'assignment' && random.chance(0.8)) {
    const body = encodeAssignment(0, {
      assignedPartitions: [{ topic: random.pick(pools.topics), partitions: [0, random.int(0, 4)] }],
      userData: null,
    }).toBuffer();
    return Buffer.concat([Buffer.from([0, 0]), body]);
  }
  return random.bytes(random.pick([0, 1, 4, 16, 100]));
}

function uuidFor(context: FillContext): Buffer {
  const { random, pools } = context;
  if (pools.topicIds.length > 0 && random.chance(0.7)) return random.pick(pools.topicIds);
  return random.chance(0.5) ? ZERO_UUID : random.bytes(16);
}

function scalarFor(field: Field, struct: Struct, filled: Record<string, unknown>, context: FillContext): unknown {
  const { random } = context;
  switch (field.elementType) {
    case 'bool':
      return random.chance(0.5);
    case 'int8':
      return int8For(field, random);
    case 'int16':
      return int16For(field, random);
    case 'uint16':
      return random.pick([0, 1, 9092, 65535]);
    case 'int32':
      return int32For(field, random);
    case 'int64':
      return int64For(field, random);
    case 'float64':
      return random.pick([0, 1.5, -1, Number.NaN, Number.POSITIVE_INFINITY]);
    case 'string':
      return stringFor(field, struct, filled, context);
    case 'bytes':
      return bytesFor(field, context);
    case 'records': {
      const records = randomRecords(random);
      context.damages.push(...records.damages);
      return records.bytes;
    }
    case 'uuid':
      return uuidFor(context);
    default:
      throw new Error(`no plausible value for ${field.elementType} (${struct.typeName}.${field.property})`);
  }
}

function arrayLength(random: Random): number {
  const roll = random.int(0, 99);
  if (roll < 12) return 0;
  if (roll < 65) return 1;
  if (roll < 92) return random.int(2, 3);
  return random.int(4, 16);
}

function fieldValue(
  field: Field,
  struct: Struct,
  filled: Record<string, unknown>,
  context: FillContext,
  depth: number,
): unknown {
  const { random, version } = context;
  if (inRange(field.nullable, version) && random.chance(0.06)) return null;
  const element = (): unknown =>
    field.struct ? fillStruct(field.struct, context, depth + 1) : scalarFor(field, struct, filled, context);
  if (!field.isArray) return element();
  const length = depth >= DEPTH_MAX ? 0 : arrayLength(random);
  const items = Array.from({ length }, element);
  if (items.length > 0 && random.chance(0.03)) {
    // Duplicate entries (the same topic or partition twice): handlers must answer each or refuse them.
    items.splice(random.int(0, items.length), 0, items[random.int(0, items.length - 1)]);
    context.duplicated = true;
  }
  return items;
}

function fillStruct(struct: Struct, context: FillContext, depth: number): Record<string, unknown> {
  const filled: Record<string, unknown> = {};
  for (const field of struct.fields) {
    if (!inRange(field.versions, context.version)) continue;
    // Tagged fields are optional on the wire: leave some out.
    if (inRange(field.tagged, context.version) && context.random.chance(0.5)) continue;
    filled[field.property] = fieldValue(field, struct, filled, context, depth);
  }
  return filled;
}

/** A random request body of `message` (a request schema) in `context.version`. */
export function randomRequestBody(message: Message, context: FillContext): Record<string, unknown> {
  return fillStruct(message.root, context, 0);
}
