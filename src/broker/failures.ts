// How the broker answers a failed operation: a Kafka error code and message per topic or partition.
// Errors a client caused are built with `fail`; errors of the environment (disk) come from storage as
// StorageError and carry their Kafka code; anything else is our bug and propagates.
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { InvariantError, StorageError } from '../storage/errors.js';
import type { Failure } from './services.js';

export const OK: Failure = { errorCode: ErrorCode.NONE, errorMessage: null };

export function fail(errorCode: number, errorMessage: string): Failure {
  return { errorCode, errorMessage };
}

export const UNKNOWN_PARTITION: Failure = fail(
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  'This server does not host this topic-partition.',
);

/** A storage failure as the answer for one partition; anything else is our bug and propagates. */
export function storageFailure(error: unknown): Failure {
  if (error instanceof StorageError) return fail(error.kafkaCode, error.message);
  throw error;
}

/** A file operation failed (opening or renaming partition directories, writing topics.json or
 *  producer-ids.properties): the environment's fault — a StorageError with its code, or the file
 *  system's error as KAFKA_STORAGE_ERROR — unless it is our own bug (an invariant), which propagates. */
export function diskFailure(error: unknown): Failure {
  if (error instanceof StorageError) return fail(error.kafkaCode, error.message);
  if (error instanceof InvariantError) throw error;
  return fail(ErrorCode.KAFKA_STORAGE_ERROR, (error as Error).message);
}
