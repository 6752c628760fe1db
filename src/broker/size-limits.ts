// Every size limit that spans layers, and the rules that relate them, in one table. A batch crosses
// five of them on its way in — socket.request.max.bytes and queued.max.request.bytes (the listener),
// message.max.bytes or the topic's max.message.bytes (produce), segment.bytes and the int32 segment
// positions (storage) — and two on its way back — the largest batch recovery believes after a crash
// (storage), fetch.max.bytes and, for followers, replica.fetch.max.bytes. Nothing related them until
// issue 13: with both limits raised past 100 MiB a 101 MiB batch was acknowledged and then cut.
//
// Each rule says what must hold, what breaks when it does not, and what Sluice does about it:
//   refuse     a configuration breaking it could acknowledge a batch and then lose it, or could never
//              work: `sluice start` stops with one line (`cannot start: …`), CreateTopics/AlterConfigs
//              answer INVALID_CONFIG;
//   warn       a limit can never be reached (no data at risk): logged, at start and on the topic change;
//   by-design  holds by how the code works, whatever the settings; its test shows the mechanism.
// The rules are checked at start (server/start-broker.ts) and on every topic config change
// (Broker.createTopic, Broker.alterTopicConfigs). test/broker/size-limits.test.ts breaks each rule.
import { integerUpperBound, readInteger, settingNamed } from '../runtime/settings.js';
import { storageLimits, type LogConfig } from '../storage/limits.js';
import type { Logger } from './logger.js';

/** A produce request around one batch: header, client id, transactional id, acks, timeout, one topic
 *  name (≤ 249 bytes) and partition. 1 KiB covers it with room; it only decides a warning. */
export const PRODUCE_REQUEST_OVERHEAD_BYTES = 1024;

export interface SizeLimits {
  /** The largest batch produce accepts, and the setting that says so: the topic's `max.message.bytes`,
   *  or the broker's `message.max.bytes` (every topic's default). */
  maxMessageBytes: { name: string; value: number };
  /** `segment.bytes` (a topic) or `log.segment.bytes` (the broker default). */
  segmentBytes: { name: string; value: number };
  socketRequestMaxBytes: number;
  /** `queued.max.request.bytes`: the listener's budget of request bytes held over all connections. */
  queuedRequestBytesMax: number;
  fetchMaxBytes: number;
  replicaFetchMaxBytes: number;
  /** The largest max.message.bytes/message.max.bytes any configuration accepts (the registry's bound). */
  maxMessageBytesCeiling: number;
  /** Storage: the largest batch recovery keeps, and the int32 segment position limit. */
  recoveryBatchBytesMax: number;
  segmentPositionMax: number;
}

export interface SizeLimitRule {
  id: string;
  consequence: 'refuse' | 'warn' | 'by-design';
  /** What must hold. */
  rule: string;
  /** What goes wrong when it does not. */
  why: string;
  /** The problem, naming the settings and their values, or null when the rule holds. */
  problem(limits: SizeLimits): string | null;
}

export const sizeLimitRules: readonly SizeLimitRule[] = [
  {
    id: 'recovery-keeps-what-produce-accepts',
    consequence: 'refuse',
    rule: 'max.message.bytes (message.max.bytes) ≤ the largest batch recovery keeps',
    why: 'a batch acknowledged but larger than recovery believes is cut as bad-length by the next unclean open',
    problem: ({ maxMessageBytes, recoveryBatchBytesMax }) =>
      maxMessageBytes.value <= recoveryBatchBytesMax
        ? null
        : `${maxMessageBytes.name} (${maxMessageBytes.value}) is above the largest batch recovery keeps ` +
          `(${recoveryBatchBytesMax}): a batch acknowledged now would be cut after a crash`,
  },
  {
    id: 'recovery-keeps-any-batch-ever-accepted',
    consequence: 'refuse',
    rule: 'the highest max.message.bytes any configuration accepts ≤ the largest batch recovery keeps',
    why:
      'batches written under an earlier configuration stay on disk after an operator lowers the limit; ' +
      'recovery must still keep them, so its bound is the ceiling, not today’s setting',
    problem: ({ maxMessageBytesCeiling, recoveryBatchBytesMax }) =>
      maxMessageBytesCeiling <= recoveryBatchBytesMax
        ? null
        : `max.message.bytes accepts up to ${maxMessageBytesCeiling}, above the largest batch recovery keeps ` +
          `(${recoveryBatchBytesMax}): a batch accepted under an earlier setting could be cut after a crash`,
  },
  {
    id: 'batch-fits-segment-positions',
    consequence: 'refuse',
    rule: 'max.message.bytes ≤ the int32 segment position limit',
    why: 'a segment addresses its batches by int32 positions; a larger batch could not be indexed or read',
    problem: ({ maxMessageBytes, segmentPositionMax }) =>
      maxMessageBytes.value <= segmentPositionMax
        ? null
        : `${maxMessageBytes.name} (${maxMessageBytes.value}) is above the int32 segment position limit ` +
          `(${segmentPositionMax})`,
  },
  {
    id: 'segment-fits-segment-positions',
    consequence: 'refuse',
    rule: 'segment.bytes ≤ the int32 segment position limit',
    why: 'a segment grown past it holds batches whose positions the index cannot store',
    problem: ({ segmentBytes, segmentPositionMax }) =>
      segmentBytes.value <= segmentPositionMax
        ? null
        : `${segmentBytes.name} (${segmentBytes.value}) is above the int32 segment position limit ` +
          `(${segmentPositionMax})`,
  },
  {
    id: 'request-carries-largest-batch',
    consequence: 'warn',
    rule: 'max.message.bytes + a produce request’s overhead ≤ socket.request.max.bytes',
    why:
      'a batch near max.message.bytes cannot arrive: the listener closes a connection whose request is ' +
      'larger than socket.request.max.bytes, so the producer sees a disconnect, not MESSAGE_TOO_LARGE',
    problem: ({ maxMessageBytes, socketRequestMaxBytes }) =>
      maxMessageBytes.value + PRODUCE_REQUEST_OVERHEAD_BYTES <= socketRequestMaxBytes
        ? null
        : `${maxMessageBytes.name} (${maxMessageBytes.value}) does not fit in socket.request.max.bytes ` +
          `(${socketRequestMaxBytes}) with a produce request around it: batches that large are refused by ` +
          `closing the connection`,
  },
  {
    id: 'request-queue-holds-largest-request',
    consequence: 'refuse',
    rule: 'socket.request.max.bytes ≤ queued.max.request.bytes',
    why:
      'the listener reserves a whole frame of its budget before reading it; a frame the budget could never ' +
      'hold would only be read when nothing else is, one request at a time for the whole broker',
    problem: ({ socketRequestMaxBytes, queuedRequestBytesMax }) =>
      socketRequestMaxBytes <= queuedRequestBytesMax
        ? null
        : `queued.max.request.bytes (${queuedRequestBytesMax}) must be at least socket.request.max.bytes ` +
          `(${socketRequestMaxBytes}): the broker holds a whole request in memory while it reads it`,
  },
  {
    id: 'fetch-serves-any-batch',
    consequence: 'by-design',
    rule: 'a Fetch returns the first batch whole, even past fetch.max.bytes and the partition max (KIP-74)',
    why: 'otherwise a batch larger than fetch.max.bytes could be written but never consumed',
    problem: () => null,
  },
  {
    id: 'replica-fetch-serves-any-batch',
    consequence: 'by-design',
    rule: 'a follower’s Fetch, bounded by replica.fetch.max.bytes, is served the same way (first batch whole)',
    why: 'otherwise a batch larger than replica.fetch.max.bytes could never replicate, and acks=all never complete',
    problem: () => null,
  },
];

/** The limits of the broker's defaults, or of one topic (its LogConfig) when given. */
export function sizeLimitsFor(brokerProperties: Record<string, string>, topic?: LogConfig): SizeLimits {
  return {
    maxMessageBytes: topic
      ? { name: 'max.message.bytes', value: topic.maxMessageBytes }
      : { name: 'message.max.bytes', value: readInteger(brokerProperties, 'message.max.bytes') },
    segmentBytes: topic
      ? { name: 'segment.bytes', value: topic.segmentBytes }
      : { name: 'log.segment.bytes', value: readInteger(brokerProperties, 'log.segment.bytes') },
    socketRequestMaxBytes: readInteger(brokerProperties, 'socket.request.max.bytes'),
    queuedRequestBytesMax: readInteger(brokerProperties, 'queued.max.request.bytes'),
    fetchMaxBytes: readInteger(brokerProperties, 'fetch.max.bytes'),
    replicaFetchMaxBytes: readInteger(brokerProperties, 'replica.fetch.max.bytes'),
    maxMessageBytesCeiling: Number(integerUpperBound(settingNamed('max.message.bytes'))),
    recoveryBatchBytesMax: storageLimits.recoveryBatchBytesMax,
    segmentPositionMax: storageLimits.segmentBytesMax,
  };
}

export interface SizeLimitReport {
  /** Problems of `refuse` rules: the configuration must not be used. */
  refused: string[];
  warnings: Array<{ rule: string; message: string }>;
}

export function checkSizeLimits(limits: SizeLimits, rules = sizeLimitRules): SizeLimitReport {
  const report: SizeLimitReport = { refused: [], warnings: [] };
  for (const rule of rules) {
    const problem = rule.problem(limits);
    if (problem === null) continue;
    if (rule.consequence === 'refuse') report.refused.push(problem);
    else report.warnings.push({ rule: rule.id, message: problem });
  }
  return report;
}

/** For a topic change: the refusal (for INVALID_CONFIG) or null. Warnings go to `logger` when the
 *  topic overrides a size (the broker defaults' own warnings were logged at start). */
export function topicSizeLimitProblem(
  topic: string,
  overrides: Record<string, string>,
  config: LogConfig,
  brokerProperties: Record<string, string>,
  logger: Logger,
): string | null {
  const report = checkSizeLimits(sizeLimitsFor(brokerProperties, config));
  if (overrides['max.message.bytes'] !== undefined || overrides['segment.bytes'] !== undefined) {
    for (const warning of report.warnings) logger.warn({ topic, rule: warning.rule }, warning.message);
  }
  return report.refused[0] ?? null;
}
