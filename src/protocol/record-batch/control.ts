// Control records (docs/record-batch.md §4): the transaction markers the broker writes to end a
// transaction on each partition. A control batch has the transactional and control attribute
// bits set and carries exactly one record:
//
//   key   = version int16 (0) | type int16 (0 ABORT, 1 COMMIT; Kafka's metadata log uses 2..6)
//   value = version int16 (0) | coordinatorEpoch int32        (for ABORT and COMMIT)
import { systemClock } from '../../runtime/clock.js';
import { encodeRecordBatchSync } from './record-encoder.js';
import { type DecodedRecord, type DecodedRecordBatch } from './record-decoder.js';
import { RecordDecodeError } from './errors.js';

export enum ControlRecordType {
  Abort = 0,
  Commit = 1,
}

const CONTROL_KEY_BYTES = 4;
const END_TRANSACTION_MARKER_VALUE_BYTES = 6;
const CONTROL_RECORD_VERSION = 0;

export interface ControlBatchOptions {
  producerId: number;
  producerEpoch: number;
  coordinatorEpoch: number;
  type: ControlRecordType;
  baseOffset?: number;
  /** Time the marker was written (ms); default now. */
  timestamp?: number;
  partitionLeaderEpoch?: number;
}

export function encodeControlRecordKey(type: ControlRecordType): Buffer {
  const key = Buffer.alloc(CONTROL_KEY_BYTES);
  key.writeInt16BE(CONTROL_RECORD_VERSION, 0);
  key.writeInt16BE(type, 2);
  return key;
}

export function encodeEndTransactionMarkerValue(coordinatorEpoch: number): Buffer {
  const value = Buffer.alloc(END_TRANSACTION_MARKER_VALUE_BYTES);
  value.writeInt16BE(CONTROL_RECORD_VERSION, 0);
  value.writeInt32BE(coordinatorEpoch, 2);
  return value;
}

/** A transaction marker batch, ready to append (CRC set). */
export function encodeControlBatch(options: ControlBatchOptions): Buffer {
  if (options.type !== ControlRecordType.Abort && options.type !== ControlRecordType.Commit) {
    throw new RangeError(`a transaction marker is ABORT (0) or COMMIT (1), got ${options.type as number}`);
  }
  if (
    !Number.isInteger(options.coordinatorEpoch) ||
    options.coordinatorEpoch < -1 ||
    options.coordinatorEpoch > 0x7fffffff
  ) {
    throw new RangeError(`coordinatorEpoch must be an int32, got ${options.coordinatorEpoch}`);
  }
  if (!Number.isSafeInteger(options.producerId) || options.producerId < 0) {
    throw new RangeError(`a transaction marker needs a producerId >= 0, got ${options.producerId}`);
  }
  const timestamp = options.timestamp ?? systemClock.now();
  return encodeRecordBatchSync({
    baseOffset: options.baseOffset ?? 0,
    partitionLeaderEpoch: options.partitionLeaderEpoch ?? -1,
    producerId: options.producerId,
    producerEpoch: options.producerEpoch,
    baseSequence: -1,
    transactional: true,
    control: true,
    timestamp,
    records: [
      {
        key: encodeControlRecordKey(options.type),
        value: encodeEndTransactionMarkerValue(options.coordinatorEpoch),
        timestamp,
      },
    ],
  });
}

export interface ControlRecord {
  /** ABORT or COMMIT for transaction markers; other numbers are Kafka's metadata-log control types. */
  type: ControlRecordType | number;
  keyVersion: number;
  /** Present for ABORT and COMMIT. */
  coordinatorEpoch?: number;
  valueVersion?: number;
}

/**
 * Reads a control record's key and, for ABORT/COMMIT, its value. Newer versions are accepted
 * (fields are only ever appended), as Kafka does.
 */
export function decodeControlRecord(key: Buffer | null, value: Buffer | null): ControlRecord {
  if (key === null || key.length < CONTROL_KEY_BYTES) {
    throw new RecordDecodeError(
      `control record key must have ${CONTROL_KEY_BYTES} bytes, has ${key?.length ?? 'null'}`,
      0,
    );
  }
  const keyVersion = key.readInt16BE(0);
  if (keyVersion < 0) throw new RecordDecodeError(`control record key version ${keyVersion} is negative`, 0);
  const type = key.readInt16BE(2);
  if (type !== ControlRecordType.Abort && type !== ControlRecordType.Commit) return { type, keyVersion };
  if (value === null || value.length < END_TRANSACTION_MARKER_VALUE_BYTES) {
    throw new RecordDecodeError(
      `transaction marker value must have ${END_TRANSACTION_MARKER_VALUE_BYTES} bytes, has ${value?.length ?? 'null'}`,
      0,
    );
  }
  const valueVersion = value.readInt16BE(0);
  if (valueVersion < 0) throw new RecordDecodeError(`transaction marker version ${valueVersion} is negative`, 0);
  return { type, keyVersion, valueVersion, coordinatorEpoch: value.readInt32BE(2) };
}

/** The marker of a decoded control batch, with the transaction it ends. */
export interface TransactionMarker extends ControlRecord {
  producerId: number;
  producerEpoch: number;
  offset: number;
  timestamp: number;
}

export function decodeControlBatchMarker(batch: DecodedRecordBatch): TransactionMarker {
  if (!batch.isControl) throw new RecordDecodeError('not a control batch', 0);
  if (batch.records.length !== 1)
    throw new RecordDecodeError(`a control batch holds one record, found ${batch.records.length}`, 0);
  const record: DecodedRecord = batch.records[0]!;
  return {
    ...decodeControlRecord(record.key, record.value),
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    offset: record.offset,
    timestamp: record.timestamp,
  };
}
