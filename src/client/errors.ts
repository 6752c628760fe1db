// Errors the client raises. One registry, three kinds (STYLE.md "Errors and limits"):
//   KafkaError          the broker answered with a Kafka error code (retriable or not, from the code table)
//   ConnectionError     the network failed us (refused, reset, closed while requests were in flight)
//   RequestTimeoutError a request got no answer within its timeout
//   ClientOptionError   the caller passed an option we cannot use (thrown synchronously, clear message)
//   ClientClosedError   the producer/consumer/admin was closed while the call was waiting
// Each is listed in the error registry (runtime/errors.ts), which says whether it is retriable.
import { errorCodeInfo, errorName } from '../protocol/generated/error-codes.js';
import { errorTypes } from '../runtime/errors.js';

export class SluiceClientError extends Error {
  override name = 'SluiceClientError';
  /** Whether trying again (after a metadata refresh, on a fresh connection) may succeed. */
  readonly retriable: boolean;
  constructor(message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.retriable = retriable;
  }
}

/** A Kafka error code returned by the broker. `type` is the code's name, e.g. NOT_LEADER_OR_FOLLOWER. */
export class KafkaError extends SluiceClientError {
  override name = 'KafkaError';
  readonly code: number;
  readonly type: string;
  constructor(code: number, message?: string | null, context?: string) {
    const info = errorCodeInfo.get(code);
    const type = errorName(code);
    const text = message ?? info?.message ?? 'unknown error code';
    super(`${context ? context + ': ' : ''}${type} (${code}): ${text}`, info?.retriable ?? false);
    this.code = code;
    this.type = type;
  }
}

export class ConnectionError extends SluiceClientError {
  override name = 'ConnectionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, errorTypes.ConnectionError.retriable, options);
  }
}

export class RequestTimeoutError extends SluiceClientError {
  override name = 'RequestTimeoutError';
  constructor(message: string) {
    super(message, errorTypes.RequestTimeoutError.retriable);
  }
}

export class ClientOptionError extends SluiceClientError {
  override name = 'ClientOptionError';
  constructor(message: string) {
    super(message, errorTypes.ClientOptionError.retriable);
  }
}

export class ClientClosedError extends SluiceClientError {
  override name = 'ClientClosedError';
  constructor(what: string) {
    super(`${what} is closed`, errorTypes.ClientClosedError.retriable);
  }
}

/** The producer's buffer is full and `bufferFullAction` is 'fail' (or waiting exceeded `bufferWaitMs`). */
export class BufferFullError extends SluiceClientError {
  override name = 'BufferFullError';
  constructor(message: string) {
    super(message, errorTypes.BufferFullError.retriable);
  }
}

/** Throws a KafkaError for a non-zero code. */
export function throwIfError(code: number, message?: string | null, context?: string): void {
  if (code !== 0) throw new KafkaError(code, message, context);
}

export function isRetriable(error: unknown): boolean {
  return error instanceof SluiceClientError && error.retriable;
}
