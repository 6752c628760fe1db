// RecordBatch v2: the header view used on the hot path, the record codec, control records,
// compression and CRC-32C. Pure functions over Buffers, no I/O.
export { crc32c } from './crc32c.js';
export {
  ATTRIBUTE_COMPRESSION_MASK,
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_DELETE_HORIZON,
  ATTRIBUTE_TIMESTAMP_TYPE,
  ATTRIBUTE_TRANSACTIONAL,
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_LENGTH_PREFIX_BYTES,
  Compression,
  CRC_OFFSET,
  CRC_START_OFFSET,
  isKnownCompression,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_BATCH_MAGIC,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  RecordBatchHeader,
  readInt64AsNumber,
  writeInt64FromNumber,
  TIMESTAMP_TYPE_CREATE_TIME,
  TIMESTAMP_TYPE_LOG_APPEND_TIME,
  validateBatch,
  type BatchProblem,
  type BatchProblemKind,
} from './header.js';
export { DEFAULT_MAX_DECOMPRESSED_BYTES, type DecodeLimits } from './batch-fields.js';
export {
  decodeRecordBatch,
  decodeRecordBatches,
  decodeRecordBatchSync,
  type DecodedRecord,
  type DecodedRecordBatch,
} from './record-decoder.js';
export {
  encodeRecordBatch,
  encodeRecordBatchSync,
  type EncodeRecordBatchOptions,
  type RecordToEncode,
} from './record-encoder.js';
export { type RecordHeader } from './record-layout.js';
export {
  ControlRecordType,
  decodeControlBatchMarker,
  decodeControlRecord,
  encodeControlBatch,
  encodeControlRecordKey,
  encodeEndTransactionMarkerValue,
  type ControlBatchOptions,
  type ControlRecord,
  type TransactionMarker,
} from './control.js';
export { compress, compressionName, compressSync, decompress, decompressSync } from './compression.js';
export { DecompressionError, DecompressionLimitError, RecordDecodeError } from './errors.js';
