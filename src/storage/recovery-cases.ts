// The table of recovery cases: every situation opening a partition directory can meet, with what
// recovery does about it, and the report of which cases one open met. test/storage/recovery.test.ts
// fails unless each row is exercised. The code that meets them: recovery.ts (the directory, the
// checkpoints, the order of segments), recovery-scan.ts (a segment's batches and indexes),
// recovery-transaction-index.ts (the `.txnindex` files).

import type { EpochEntry } from './checkpoints.js';
import type { StorageLogger } from './logger.js';
import type { Segment, SegmentEnvironment } from './segment.js';

/** The table of cases. `action` is what recovery does; every id must be covered by a test. */
export const recoveryCases = [
  // Files in the directory
  {
    id: 'leftover-file',
    when: 'a *.tmp, *.deleted or *.cleaned file left by an interrupted checkpoint, deletion or compaction',
    action: 'delete it',
  },
  {
    id: 'swap-file',
    when: 'a *.log.swap: compaction finished writing a replacement segment but crashed before renaming it',
    action: 'rename it over the .log and rebuild its indexes',
  },
  { id: 'orphan-index', when: 'an .index, .timeindex or .txnindex without its .log', action: 'delete it' },
  {
    id: 'no-segments',
    when: 'no .log file at all (new partition, or everything was deleted)',
    action: 'create an empty segment at the log start offset',
  },
  {
    id: 'no-recovery-point',
    when: 'no recovery-point checkpoint (never checkpointed) or an unreadable one',
    action: 'scan every segment',
  },
  {
    id: 'recovery-point-beyond-end',
    when: 'the recovery point is past the end of the data on disk',
    action: 'warn, treat the last segment as unflushed and scan it',
  },
  // Segments below the recovery point
  {
    id: 'trusted-segment',
    when: 'a segment wholly below the recovery point with sound indexes',
    action: 'load its indexes, read the headers after the last index entry',
  },
  {
    id: 'missing-index',
    when: 'a trusted segment whose .index or .timeindex is missing',
    action: 'rebuild both by scanning the segment',
  },
  {
    id: 'corrupt-index',
    when: 'a trusted segment whose index fails its sanity check (size, order, bounds, last entry)',
    action: 'delete it, rebuild both by scanning the segment',
  },
  {
    id: 'damaged-tail',
    when: 'a trusted segment whose headers after the last index entry are malformed',
    action: 'scan and validate the whole segment',
  },
  // Batches in a scanned segment
  {
    id: 'batch-valid',
    when: 'length within bounds and file, magic 2, CRC32C matches, counts agree, offsets increase',
    action: 'keep it and index it',
  },
  { id: 'clean-end', when: 'the file ends exactly after a batch', action: 'nothing to cut' },
  { id: 'torn-header', when: 'fewer bytes than a batch header remain', action: 'cut the file there' },
  {
    id: 'bad-length',
    when: 'batchLength smaller than a header or larger than any batch can be',
    action: 'cut the file there',
  },
  { id: 'torn-batch', when: 'the batch runs past the end of the file', action: 'cut the file there' },
  { id: 'bad-magic', when: 'magic is not 2', action: 'cut the file there' },
  { id: 'bad-crc', when: 'the CRC32C does not match', action: 'cut the file there' },
  { id: 'bad-count', when: 'recordCount and lastOffsetDelta disagree or are negative', action: 'cut the file there' },
  {
    id: 'bad-epoch',
    when: 'partitionLeaderEpoch is negative or newer than any epoch in the leader-epoch checkpoint',
    action: 'cut the file there',
  },
  {
    id: 'offset-mismatch',
    when:
      'the batch does not start at the end of the previous batch (or its segment base); with compaction, only if ' +
      'it starts below',
    action: 'cut the file there',
  },
  {
    id: 'segment-gap',
    when:
      'the next segment does not start where this one ends (this one lost its tail in a crash during a roll); ' +
      'with compaction, only if it starts below',
    action: 'treat as a cut: delete the segments after it',
  },
  { id: 'segment-after-cut', when: 'a segment after one that was cut', action: 'delete it' },
  // Aborted-transaction indexes (.txnindex)
  {
    id: 'txnindex-loaded',
    when:
      "a trusted segment's .txnindex passes its checks " +
      '(whole entries, version 0, markers increasing inside the segment)',
    action: 'use its entries',
  },
  {
    id: 'txnindex-missing',
    when: 'a trusted segment without .txnindex in a log that keeps them (written before .txnindex existed, or lost)',
    action: 'list the segment as unindexed: the broker rebuilds its entries by scanning it, and the file is written',
  },
  {
    id: 'txnindex-corrupt',
    when: 'a .txnindex that fails its checks (garbage; in a trusted segment, also a torn size)',
    action: 'delete it and treat it as missing (a scanned segment: as empty, every control batch unverified)',
  },
  {
    id: 'txnindex-torn',
    when: "a scanned segment's .txnindex ends inside an entry (a crash during its write)",
    action: 'cut it to whole entries',
  },
  {
    id: 'txnindex-past-end',
    when:
      "a scanned segment's .txnindex has entries at or past the recovered end, or above the recovery point " +
      'without a control batch at their marker offset',
    action: 'drop them (the file is rewritten)',
  },
  {
    id: 'txnindex-unverified',
    when:
      'a scanned segment has control batches at or past the recovery point (or anywhere, without a .txnindex) ' +
      'that no entry names',
    action: 'list them for the broker to complete; the recovery point stays below the first until it has',
  },
] as const;

export type RecoveryCaseId = (typeof recoveryCases)[number]['id'];

export interface RecoveryCut {
  file: string;
  case: RecoveryCaseId;
  detail: string;
  /** Bytes [fromByte, toByte) were removed. */
  fromByte: number;
  toByte: number;
  /** Offsets from here on were lost (or never complete). */
  fromOffset: number;
}

export interface RecoveryReport {
  /** How often each case occurred. */
  cases: Map<RecoveryCaseId, number>;
  cuts: RecoveryCut[];
  scannedSegments: number;
  scannedBytes: number;
}

export interface RecoveredPartition {
  segments: Segment[];
  logStartOffset: number;
  recoveryPoint: number;
  leaderEpochs: EpochEntry[];
  report: RecoveryReport;
}

export interface RecoveryContext {
  environment: SegmentEnvironment;
  /** The newest leader epoch on record; a batch claiming a newer one is corrupt. Undefined: unknown. */
  latestEpoch?: number;
  directory: string;
  logger: StorageLogger;
  report: RecoveryReport;
}

export function note(context: RecoveryContext, id: RecoveryCaseId): void {
  context.report.cases.set(id, (context.report.cases.get(id) ?? 0) + 1);
}

export function emptyReport(): RecoveryReport {
  return { cases: new Map(), cuts: [], scannedSegments: 0, scannedBytes: 0 };
}
