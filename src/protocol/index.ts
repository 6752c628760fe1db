// src/protocol: bytes ⇄ typed Kafka requests and responses. Pure functions, no I/O.
//
// Integer convention: INT64 wire fields (offsets, timestamps, producer ids) are `bigint` in the
// generated message types — the wire edge — and plain `number`s inside Sluice (RecordBatchHeader,
// storage, broker), where every offset and millisecond timestamp is a safe integer.
export * from './errors.js';
export { ByteReader } from './primitives/byte-reader.js';
export { ByteWriter } from './primitives/byte-writer.js';
export * from './frame.js';
export * as messages from './generated/index.js';
export { apiCodecs, ApiKey, type ApiCodec } from './generated/index.js';
