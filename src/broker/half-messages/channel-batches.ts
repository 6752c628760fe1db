// The half-message channel's batches, decoded one at a time. Producers write the channel
// (`__sluice_half`, `__sluice_half_op`), and the produce path checks a batch's header and CRC, not its
// records: a broken producer can store a batch whose CRC is right but whose records do not decode
// (the fuzzer wrote one, seed 4). Such a batch holds nothing the service could act on, and decoding
// the whole read at once would fail on it in every pass — the partition's half messages would never
// be read again. It is reported and passed over; the batches around it are read as usual.
import { RecordBatchHeader } from '../../protocol/record-batch/header.js';
import { decodeRecordBatch, type DecodedRecordBatch } from '../../protocol/record-batch/record-decoder.js';

export interface UnreadableBatch {
  baseOffset: number;
  lastOffset: number;
  error: string;
}

/** Every whole batch of `records` (a log read) that decodes; `onUnreadable` hears of the others. */
export async function readableBatches(
  records: Buffer,
  onUnreadable: (batch: UnreadableBatch) => void,
): Promise<DecodedRecordBatch[]> {
  const batches: DecodedRecordBatch[] = [];
  let position = 0;
  // The log hands out whole batches whose lengths it checked on append; a trailing partial one ends the read.
  while (records.length - position >= 61) {
    const header = new RecordBatchHeader(records, position);
    const end = position + header.totalBytes;
    if (header.totalBytes < 61 || end > records.length) break;
    try {
      batches.push(await decodeRecordBatch(records.subarray(position, end)));
    } catch (error) {
      onUnreadable({
        baseOffset: header.baseOffset,
        lastOffset: header.baseOffset + header.lastOffsetDelta,
        error: String(error),
      });
    }
    position = end;
  }
  return batches;
}
