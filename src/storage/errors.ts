// The storage layer's three kinds of failure, kept apart (STYLE.md "Errors and limits"):
//   1. the caller asked for something the log cannot give (offset out of range, batch too large) →
//      a StorageError whose code names the Kafka error the broker answers with;
//   2. the environment failed (EIO, ENOSPC, EROFS …) → a StorageError with code KAFKA_STORAGE_ERROR;
//      the partition turns read-only and says so once in the log;
//   3. Sluice itself is wrong → `invariant()` throws an InvariantError, which nobody should catch.

import { storageErrorCodes } from '../runtime/errors.js';

/** Codes a StorageError can carry, with the Kafka error code the broker answers with (the error
 *  registry's table, runtime/errors.ts). */
export { storageErrorCodes };

export type StorageErrorCode = keyof typeof storageErrorCodes;

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  readonly kafkaCode: number;
  override readonly cause: unknown;

  constructor(code: StorageErrorCode, detail?: string, cause?: unknown) {
    const base = storageErrorCodes[code];
    super(detail === undefined ? base.message : `${base.message}: ${detail}`);
    this.name = 'StorageError';
    this.code = code;
    this.kafkaCode = base.kafkaCode;
    this.cause = cause;
  }
}

/** An error from the operating system that means the disk (not the caller) failed. */
const diskErrnoCodes = new Set(['EIO', 'ENOSPC', 'EROFS', 'EDQUOT', 'EFBIG', 'ENXIO', 'EBADF']);

export function isDiskError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && diskErrnoCodes.has(code);
}

export class InvariantError extends Error {
  constructor(message: string) {
    super(`storage invariant violated: ${message}`);
    this.name = 'InvariantError';
  }
}

/** Kind 3: a bug in Sluice. Stops the operation before it writes something wrong. */
export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}
