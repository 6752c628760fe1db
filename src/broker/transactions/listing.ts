// DescribeTransactions and ListTransactions (KIP-664): read-only views of the transaction table.
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import { TRANSACTION_STATUS_NAMES, TransactionStatus } from './state-records.js';
import type { TransactionTable } from './transaction-table.js';

export interface TransactionDescription {
  errorCode: number;
  transactionalId: string;
  state: string;
  timeoutMs: number;
  startMs: number;
  producerId: number;
  producerEpoch: number;
  topics: Array<{ topic: string; partitions: number[] }>;
}

export function describeTransaction(table: TransactionTable, transactionalId: string): TransactionDescription {
  const t = table.get(transactionalId);
  if (t === undefined) {
    return {
      errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND,
      transactionalId,
      state: '',
      timeoutMs: 0,
      startMs: -1,
      producerId: -1,
      producerEpoch: -1,
      topics: [],
    };
  }
  return {
    errorCode: ErrorCode.NONE,
    transactionalId,
    state: TRANSACTION_STATUS_NAMES[t.status],
    timeoutMs: t.timeoutMs,
    startMs:
      t.status === TransactionStatus.Ongoing ||
      t.status === TransactionStatus.PrepareCommit ||
      t.status === TransactionStatus.PrepareAbort
        ? t.startMs
        : -1,
    producerId: t.producerId,
    producerEpoch: t.producerEpoch,
    topics: [...t.partitions].map(([topic, partitions]) => ({
      topic,
      partitions: [...partitions].sort((a, b) => a - b),
    })),
  };
}

/** The transactions matching every filter given (an empty filter matches all; duration -1: any). */
export function listTransactions(
  table: TransactionTable,
  nowMs: number,
  stateFilters: string[],
  producerIdFilters: number[],
  durationFilterMs: number,
): {
  unknownStateFilters: string[];
  transactions: Array<{ transactionalId: string; producerId: number; state: string }>;
} {
  const known = new Set(Object.values(TRANSACTION_STATUS_NAMES));
  const unknownStateFilters = stateFilters.filter((s) => !known.has(s));
  const states = new Set(stateFilters);
  const producers = new Set(producerIdFilters);
  const transactions = [];
  for (const t of table.values()) {
    const state = TRANSACTION_STATUS_NAMES[t.status];
    if (states.size > 0 && !states.has(state)) continue;
    if (producers.size > 0 && !producers.has(t.producerId)) continue;
    if (durationFilterMs >= 0 && (t.startMs < 0 || nowMs - t.startMs <= durationFilterMs)) continue;
    transactions.push({ transactionalId: t.transactionalId, producerId: t.producerId, state });
  }
  return { unknownStateFilters, transactions };
}
