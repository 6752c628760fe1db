// The error registry: every error class Sluice throws is listed here once — its name, the layer that
// throws it, which of STYLE.md's three kinds it is, the Kafka error code a client sees for it (where
// it reaches one), and whether trying again may succeed. The classes stay in their layers (a layer's
// errors are part of its interface) and take their retriable flag and Kafka code from this table;
// test/runtime/errors.test.ts fails when a class in src/ is missing here, when its `name` differs, or
// when a Kafka code here is not Kafka's code of that name.
//
// Kinds (STYLE.md "Errors and limits"), never mixed:
//   caller       what a client or operator did wrong: a bad request, option, setting or command line
//   environment  what the machine did: disk, network, a file damaged or held by someone else
//   bug          what we got wrong: an assertion that stops before something wrong is written
//
// This layer imports nothing of ours, so Kafka codes are written as numbers beside their names;
// the test checks both against protocol/generated/error-codes.ts.

export type ErrorKind = 'caller' | 'environment' | 'bug';
export type ErrorLayer = 'runtime' | 'protocol' | 'storage' | 'broker' | 'cluster' | 'server' | 'client' | 'cli';

export interface KafkaCodeRef {
  code: number;
  name: string;
}

export interface ErrorType {
  layer: ErrorLayer;
  /** null: it depends on the instance (its code). */
  kind: ErrorKind | null;
  /** The Kafka error code a client gets for it; null when it never becomes one, or when it depends on
   *  the instance (`perInstance`). */
  kafka: KafkaCodeRef | null;
  /** The Kafka code, and with it kind and retriable, comes with each instance (a code field). */
  perInstance?: true;
  /** Whether the same call, tried again, may succeed. */
  retriable: boolean;
  doc: string;
}

const CORRUPT_MESSAGE: KafkaCodeRef = { code: 2, name: 'CORRUPT_MESSAGE' };
const INVALID_CONFIG: KafkaCodeRef = { code: 40, name: 'INVALID_CONFIG' };
const KAFKA_STORAGE_ERROR: KafkaCodeRef = { code: 56, name: 'KAFKA_STORAGE_ERROR' };
const INVALID_RECORD: KafkaCodeRef = { code: 87, name: 'INVALID_RECORD' };

/** Every error class, by its `name`. */
export const errorTypes = {
  // runtime
  ConfigError: {
    layer: 'runtime',
    kind: 'caller',
    kafka: null,
    retriable: false,
    doc: 'a setting with a value it does not accept, found at start (the broker does not start)',
  },
  // protocol
  DecodeError: {
    layer: 'protocol',
    kind: 'caller',
    kafka: null,
    retriable: false,
    doc: 'request bytes that do not parse as their API and version: the connection is closed',
  },
  EncodeError: {
    layer: 'protocol',
    kind: 'bug',
    kafka: null,
    retriable: false,
    doc: 'a value the chosen API version cannot carry',
  },
  RecordDecodeError: {
    layer: 'protocol',
    kind: 'caller',
    kafka: INVALID_RECORD,
    retriable: false,
    doc: 'records inside a batch that do not parse (on produce: INVALID_RECORD)',
  },
  DecompressionError: {
    layer: 'protocol',
    kind: 'caller',
    kafka: CORRUPT_MESSAGE,
    retriable: false,
    doc: 'compressed records the codec cannot decompress (on produce: CORRUPT_MESSAGE)',
  },
  DecompressionLimitError: {
    layer: 'protocol',
    kind: 'caller',
    kafka: CORRUPT_MESSAGE,
    retriable: false,
    doc: 'compressed records that would decompress past the allowed size (on produce: CORRUPT_MESSAGE)',
  },
  // storage
  StorageError: {
    layer: 'storage',
    kind: null,
    kafka: null,
    perInstance: true,
    retriable: false,
    doc: 'a refusal or failure of the partition log; its code (storageErrorCodes) names the Kafka code',
  },
  InvariantError: {
    layer: 'storage',
    kind: 'bug',
    kafka: null,
    retriable: false,
    doc: 'a storage invariant does not hold: nobody catches it',
  },
  IndexCorruptError: {
    layer: 'storage',
    kind: 'environment',
    kafka: null,
    retriable: false,
    doc: 'an offset or time index that does not check out: recovery rebuilds it',
  },
  TransactionIndexCorruptError: {
    layer: 'storage',
    kind: 'environment',
    kafka: null,
    retriable: false,
    doc: 'a .txnindex that does not check out: recovery rebuilds it from the batches',
  },
  CheckpointFormatError: {
    layer: 'storage',
    kind: 'environment',
    kafka: null,
    retriable: false,
    doc: 'a checkpoint file that does not parse: recovery scans from an earlier point',
  },
  // broker
  DataDirError: {
    layer: 'broker',
    kind: 'environment',
    kafka: KAFKA_STORAGE_ERROR,
    retriable: false,
    doc:
      'the data directory is held, foreign or unreadable (start refused); ' +
      'or producer ids cannot be reserved (InitProducerId: KAFKA_STORAGE_ERROR)',
  },
  SnapshotFormatError: {
    layer: 'broker',
    kind: 'environment',
    kafka: null,
    retriable: false,
    doc: 'a producer-state snapshot that does not check out: deleted, an older one or the log is used',
  },
  GroupStateError: {
    layer: 'broker',
    kind: 'bug',
    kafka: null,
    retriable: false,
    doc: 'a consumer group step its state machine does not allow',
  },
  InternalTopicError: {
    layer: 'broker',
    kind: 'environment',
    kafka: null,
    retriable: true,
    doc: "an internal topic (a coordinator's log) could not be created or is not open",
  },
  MarkerNotCommittedError: {
    layer: 'broker',
    kind: 'environment',
    kafka: null,
    retriable: true,
    doc:
      'a transaction marker the in-sync replicas did not all take (leadership lost, too few in sync); ' +
      'the coordinator writes it again (WriteTxnMarkers answers its code)',
  },
  // cluster
  PeerClosedError: {
    layer: 'cluster',
    kind: 'environment',
    kafka: null,
    retriable: true,
    doc: "a broker's connection to another broker (a follower's to its leader) closed; the fetcher opens a new one",
  },
  // server
  ListenError: {
    layer: 'server',
    kind: 'environment',
    kafka: null,
    retriable: false,
    doc: 'the listener could not bind (address in use, no permission, unknown host)',
  },
  // cli
  UsageError: {
    layer: 'cli',
    kind: 'caller',
    kafka: null,
    retriable: false,
    doc: '`sluice start` command line that cannot be understood (exit code 2)',
  },
  ToolUsageError: {
    layer: 'cli',
    kind: 'caller',
    kafka: null,
    retriable: false,
    doc: 'a tool command line that cannot be understood (exit code 2)',
  },
  // client
  SluiceClientError: {
    layer: 'client',
    kind: null,
    kafka: null,
    perInstance: true,
    retriable: false,
    doc: 'the base of every client error; each instance says whether it is retriable',
  },
  KafkaError: {
    layer: 'client',
    kind: null,
    kafka: null,
    perInstance: true,
    retriable: false,
    doc: "the broker answered with a Kafka error code; retriable as Kafka's code table says",
  },
  ConnectionError: {
    layer: 'client',
    kind: 'environment',
    kafka: null,
    retriable: true,
    doc: 'the network failed (refused, reset, closed with requests in flight)',
  },
  RequestTimeoutError: {
    layer: 'client',
    kind: 'environment',
    kafka: null,
    retriable: true,
    doc: 'a request got no answer within its timeout',
  },
  ClientOptionError: {
    layer: 'client',
    kind: 'caller',
    kafka: null,
    retriable: false,
    doc: 'an option or argument the client cannot use (thrown at once, with a clear message)',
  },
  ClientClosedError: {
    layer: 'client',
    kind: 'caller',
    kafka: null,
    retriable: false,
    doc: 'the producer, consumer or admin was closed while the call waited',
  },
  BufferFullError: {
    layer: 'client',
    kind: 'environment',
    kafka: null,
    retriable: false,
    doc: "the producer's buffer is full and bufferFullAction is 'fail' (or the wait ran out)",
  },
  ProducerFencedError: {
    layer: 'client',
    kind: 'caller',
    kafka: { code: 90, name: 'PRODUCER_FENCED' },
    retriable: false,
    doc: 'a newer producer with the same transactional id took over (PRODUCER_FENCED or INVALID_PRODUCER_EPOCH)',
  },
  RedisReplyError: {
    layer: 'client',
    kind: 'environment',
    kafka: null,
    retriable: false,
    doc: 'the Redis de-duplication store answered with an error',
  },
} as const satisfies Record<string, ErrorType>;

export type ErrorTypeName = keyof typeof errorTypes;

/** Codes a StorageError can carry, with the Kafka error code the broker answers with. */
export const storageErrorCodes = {
  OFFSET_OUT_OF_RANGE: {
    kafkaCode: 1,
    message: 'The requested offset is not within the range of offsets kept by this partition',
  },
  CORRUPT_MESSAGE: { kafkaCode: 2, message: 'The record batch failed its length, magic or CRC check' },
  MESSAGE_TOO_LARGE: { kafkaCode: 10, message: 'The record batch is larger than the partition accepts' },
  KAFKA_STORAGE_ERROR: {
    kafkaCode: 56,
    message: 'Disk error when trying to access the log; the partition is read-only',
  },
  DAMAGED_BATCH: {
    kafkaCode: 56,
    message: 'A stored record batch failed its checks when read back (damaged on disk)',
  },
  INVALID_RECORD: { kafkaCode: 87, message: 'The record batch is structurally invalid' },
  LOG_CLOSED: { kafkaCode: 56, message: 'The partition log is closed' },
  INVALID_CONFIG: { kafkaCode: INVALID_CONFIG.code, message: 'A storage configuration value is invalid' },
  INCONSISTENT_TOPIC_ID: { kafkaCode: 103, message: 'The topic id on disk differs from the one given' },
  // Replication (storage/log-replication.ts and the broker's Partition); they answer a replica, not a client.
  FENCED_LEADER_EPOCH: { kafkaCode: 74, message: 'The leader epoch is older than one the log already holds' },
  UNEXPECTED_APPEND_OFFSET: {
    kafkaCode: -1,
    message: 'The replicated batches do not continue the log at its end offset',
  },
  NOT_LEADER_OR_FOLLOWER: {
    kafkaCode: 6,
    message: 'The partition does not take this write in its current role (leader or follower)',
  },
} as const;
