// The half-message channel's vocabulary (docs/half-messages.md, "The channel"): topic names, the
// `sluice.half.*` headers, half ids, and the JSON op records of `__sluice_half_op`. Pure functions,
// so the service (service.ts) reads as the state machine it is.
//
//   __sluice_half          key, value, timestamp, headers of the message for T, plus
//                          sluice.half.topic = T, sluice.half.partition = "<n>", sluice.half.group = <group>
//   __sluice_half_op       key "<p>:<o>" (the half id), value {"op":"commit"|"rollback"|"unknown"}
//                          or the broker's {"op":"check","attempt":n} | {"op":"moving","offset":x}
//                          | {"op":"moved","offset":y} | {"op":"abandoned","reason":"…"}
//   __sluice_check.<group> the half record with its headers, plus sluice.half.id and sluice.half.check
//   __sluice_half_abandoned the half record with its headers, plus sluice.half.id, .checks, .reason
//   T                      the message with sluice.half.* replaced by sluice.half.id
import type { DecodedRecord } from '../../protocol/record-batch/record-decoder.js';
import type { RecordHeader } from '../../protocol/record-batch/record-layout.js';
import type { RecordToEncode } from '../../protocol/record-batch/record-encoder.js';
import {
  HALF_HEADER_PREFIX,
  HALF_HEADERS,
  HALF_OP_TOPIC,
  HALF_TOPIC,
  PRODUCER_GROUP_PATTERN,
} from '../../protocol/half-messages.js';

export {
  HALF_TOPIC,
  HALF_OP_TOPIC,
  HALF_ABANDONED_TOPIC,
  CHECK_TOPIC_PREFIX,
  checkTopicOf,
} from '../../protocol/half-messages.js';

export const TOPIC_HEADER = HALF_HEADERS.topic;
export const PARTITION_HEADER = HALF_HEADERS.partition;
export const GROUP_HEADER = HALF_HEADERS.group;
export const ID_HEADER = HALF_HEADERS.id;
export const CHECK_HEADER = HALF_HEADERS.check;
export const CHECKS_HEADER = HALF_HEADERS.checks;
export const REASON_HEADER = HALF_HEADERS.reason;

const GROUP_PATTERN = PRODUCER_GROUP_PATTERN;
/** Kafka's partition numbers are int32; more digits than this cannot name one. */
const PARTITION_PATTERN = /^(0|[1-9][0-9]{0,9})$/;
const HALF_ID_PATTERN = /^(0|[1-9][0-9]{0,9}):(0|[1-9][0-9]{0,15})$/;

/** The topics producers write to directly; the broker's other internal topics refuse client produce. */
export function acceptsClientProduce(topic: string): boolean {
  return topic === HALF_TOPIC || topic === HALF_OP_TOPIC;
}

export interface HalfId {
  partition: number;
  offset: number;
}

export function formatHalfId(partition: number, offset: number): string {
  return `${partition}:${offset}`;
}

/** The half id of an op record's key, or null when the key is not one. */
export function parseHalfId(key: Buffer | null): HalfId | null {
  if (key === null) return null;
  const match = HALF_ID_PATTERN.exec(key.toString('utf8'));
  if (!match) return null;
  const offset = Number(match[2]);
  return Number.isSafeInteger(offset) ? { partition: Number(match[1]), offset } : null;
}

export type Op =
  | { op: 'commit' }
  | { op: 'rollback' }
  | { op: 'unknown' }
  | { op: 'check'; attempt: number }
  | { op: 'moving'; offset: number }
  | { op: 'moved'; offset: number }
  | { op: 'abandoned'; reason: string };

function naturalNumber(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
}

/** An op record's value, or null when it is not one of the ops above (such records are ignored). */
export function parseOp(value: Buffer | null): Op | null {
  if (value === null || value.length > 64 * 1024) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const fields = parsed as Record<string, unknown>;
  switch (fields['op']) {
    case 'commit':
    case 'rollback':
    case 'unknown':
      return { op: fields['op'] };
    case 'check':
      return naturalNumber(fields['attempt'], 1) ? { op: 'check', attempt: fields['attempt'] } : null;
    case 'moving':
    case 'moved':
      return naturalNumber(fields['offset'], 0) ? { op: fields['op'], offset: fields['offset'] } : null;
    case 'abandoned':
      return { op: 'abandoned', reason: typeof fields['reason'] === 'string' ? fields['reason'] : '' };
    default:
      return null;
  }
}

export function encodeOp(op: Op): Buffer {
  return Buffer.from(JSON.stringify(op), 'utf8');
}

/** Where a half message goes, read from its headers. */
export interface HalfTarget {
  topic: string;
  partition: number;
  group: string;
}

function headerText(headers: readonly RecordHeader[], name: string): string | null {
  let found: string | null = null;
  for (const header of headers) if (header.key === name && header.value !== null) found = header.value.toString('utf8');
  return found;
}

/** The target of a half record, or why it has none (a record like that is abandoned at once). */
export function halfTargetOf(headers: readonly RecordHeader[]): HalfTarget | { problem: string } {
  const topic = headerText(headers, TOPIC_HEADER);
  const partitionText = headerText(headers, PARTITION_HEADER);
  const group = headerText(headers, GROUP_HEADER);
  if (topic === null || topic === '') return { problem: `no ${TOPIC_HEADER} header` };
  if (partitionText === null) return { problem: `no ${PARTITION_HEADER} header` };
  if (group === null) return { problem: `no ${GROUP_HEADER} header` };
  if (!PARTITION_PATTERN.test(partitionText) || Number(partitionText) > 2 ** 31 - 1)
    return { problem: `${PARTITION_HEADER} "${partitionText}" is not a partition number` };
  if (!GROUP_PATTERN.test(group))
    return { problem: `${GROUP_HEADER} "${group}" is not a producer group name ([A-Za-z0-9._-]{1,200})` };
  return { topic, partition: Number(partitionText), group };
}

function withoutHalfHeaders(headers: readonly RecordHeader[]): RecordHeader[] {
  return headers.filter((header) => !header.key.startsWith(HALF_HEADER_PREFIX));
}

function text(value: string | number): RecordHeader {
  return { key: '', value: Buffer.from(String(value), 'utf8') };
}

function header(key: string, value: string | number): RecordHeader {
  return { ...text(value), key };
}

function copyOf(record: DecodedRecord, headers: RecordHeader[]): RecordToEncode {
  return { key: record.key, value: record.value, timestamp: record.timestamp, headers };
}

/** The committed message as it appears in T. */
export function targetRecord(half: DecodedRecord, id: string): RecordToEncode {
  return copyOf(half, [...withoutHalfHeaders(half.headers), header(ID_HEADER, id)]);
}

/** A check request for `__sluice_check.<group>`: the half record with all its headers, plus id and attempt. */
export function checkRecord(half: DecodedRecord, id: string, attempt: number): RecordToEncode {
  return copyOf(half, [...half.headers, header(ID_HEADER, id), header(CHECK_HEADER, attempt)]);
}

/** The copy in `__sluice_half_abandoned`. */
export function abandonedRecord(half: DecodedRecord, id: string, checks: number, reason: string): RecordToEncode {
  return copyOf(half, [
    ...half.headers,
    header(ID_HEADER, id),
    header(CHECKS_HEADER, checks),
    header(REASON_HEADER, reason),
  ]);
}

/** The half id a record of T carries, if any (finishing a `moving` after a crash looks for it). */
export function halfIdOf(record: DecodedRecord): string | null {
  return headerText(record.headers, ID_HEADER);
}
