// The transaction coordinator's markers in a cluster. A partition led here gets its COMMIT or ABORT
// marker from the broker's own writer; one led by another broker gets it with WriteTxnMarkers, the
// request Kafka's coordinator sends, on one connection per broker (write-txn-markers handler there).
//
// A leader that moved, a broker that died or a partition without a leader yet is retried, the placement
// read afresh each time (backoff 50 ms doubling to 500 ms), until `timeoutMs`; then the write fails, the
// transaction stays Prepare* and the coordinator's timer writes its markers again later. A topic that is
// gone from the placement needs no marker. A marker repeated meanwhile is harmless: the transaction
// stays Prepare* until every marker is in, so its producer cannot have begun the next one.
// A coordinator that lost the transaction (its `__transaction_state` partition moved) stops retrying:
// the new coordinator writes the markers, and a late one from here could end the producer's next
// transaction (Kafka fences those with the coordinator epoch; Sluice does not carry one yet).
import type { MetadataView } from '../broker/metadata/view.js';
import type { TransactionMarkerWriter } from '../broker/services.js';
import type { Clock } from '../runtime/clock.js';
import { ApiKey, ErrorCode, errorCodeInfo } from '../protocol/generated/index.js';
import type { WriteTxnMarkersResponse } from '../protocol/generated/write-txn-markers.js';
import { PeerConnection } from './peer-connection.js';

/** WriteTxnMarkers v1: the flexible version every Kafka broker since 2.8 takes. */
const WRITE_TXN_MARKERS_VERSION = 1;
const CONNECT_TIMEOUT_MS = 3_000;
const BACKOFF_FIRST_MS = 50;
const BACKOFF_MAX_MS = 500;
/** A WriteTxnMarkers answer is a few bytes per partition: anything near this is not one. */
const ANSWER_BYTES_MAX = 1024 * 1024;
/** One WriteTxnMarkers without an answer this long (or past the marker's deadline): the connection is
 *  dropped and the marker retried. */
const REQUEST_TIMEOUT_MS = 5_000;

export interface MarkerWriterSettings {
  /** How long one marker is retried before the write fails (the coordinator retries later). */
  timeoutMs: number;
  clock: Clock;
}

export class ClusterMarkerWriter implements TransactionMarkerWriter {
  private readonly connections = new Map<number, Promise<PeerConnection>>();
  private closed = false;

  constructor(
    private readonly view: MetadataView,
    private readonly local: TransactionMarkerWriter,
    private readonly settings: MarkerWriterSettings,
  ) {}

  async writeTransactionMarker(
    topic: string,
    partition: number,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
    stillWanted: () => boolean = () => true,
  ): Promise<void> {
    const deadline = this.settings.clock.now() + this.settings.timeoutMs;
    for (let backoff = BACKOFF_FIRST_MS; ; backoff = Math.min(backoff * 2, BACKOFF_MAX_MS)) {
      if (!stillWanted())
        throw new Error(`transaction marker for ${topic}-${partition} not written: no longer the coordinator`);
      const placement = this.view.placement(topic, partition);
      if (placement === undefined) return; // deleted: nothing left to end
      let problem: string;
      if (placement.leaderId === this.view.localNodeId) {
        try {
          return await this.local.writeTransactionMarker(topic, partition, producerId, producerEpoch, commit);
        } catch (error) {
          problem = (error as Error).message;
        }
      } else if (placement.leaderId < 0) {
        problem = 'the partition has no leader';
      } else {
        const waitMs = Math.max(100, Math.min(REQUEST_TIMEOUT_MS, deadline - this.settings.clock.now()));
        const errorCode = await this.send(
          placement.leaderId,
          topic,
          partition,
          producerId,
          producerEpoch,
          commit,
          waitMs,
        );
        if (errorCode === ErrorCode.NONE) return;
        problem =
          typeof errorCode === 'string'
            ? errorCode
            : `broker ${placement.leaderId} answered ${errorCodeInfo.get(errorCode)?.name ?? errorCode}`;
      }
      if (this.closed || this.settings.clock.now() + backoff > deadline)
        throw new Error(`transaction marker for ${topic}-${partition} not written: ${problem}`);
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }

  /** The partition's error code from its leader, or why there was no answer. */
  private async send(
    brokerId: number,
    topic: string,
    partition: number,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
    waitMs: number,
  ): Promise<number | string> {
    let connection: PeerConnection;
    try {
      connection = await this.connection(brokerId);
    } catch (error) {
      return `broker ${brokerId} unreachable: ${(error as Error).message}`;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${waitMs} ms`)), waitMs);
    });
    try {
      const response = await Promise.race([
        connection.request<WriteTxnMarkersResponse>(ApiKey.WriteTxnMarkers, WRITE_TXN_MARKERS_VERSION, {
          markers: [
            {
              producerId: BigInt(producerId),
              producerEpoch,
              transactionResult: commit,
              topics: [{ name: topic, partitionIndexes: [partition] }],
              coordinatorEpoch: 0,
            },
          ],
        }),
        timedOut,
      ]);
      const answered = response.markers[0]?.topics.find((t) => t.name === topic)?.partitions;
      const result = answered?.find((p) => p.partitionIndex === partition);
      return result === undefined ? `broker ${brokerId} did not answer for ${topic}-${partition}` : result.errorCode;
    } catch (error) {
      connection.close(); // a broken or silent peer: the next attempt connects afresh
      this.connections.delete(brokerId);
      return `broker ${brokerId}: ${(error as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
  }

  private connection(brokerId: number): Promise<PeerConnection> {
    const node = this.view.node(brokerId);
    if (node === undefined) return Promise.reject(new Error('not a live broker'));
    const open = this.connections.get(brokerId);
    if (open !== undefined) {
      // A connection whose socket closed is replaced.
      return open.then((c) => (c.closed ? this.reconnect(brokerId, node.host, node.port) : c));
    }
    return this.reconnect(brokerId, node.host, node.port);
  }

  private reconnect(brokerId: number, host: string, port: number): Promise<PeerConnection> {
    const opening = PeerConnection.open(
      host,
      port,
      `sluice-txn-markers-${this.view.localNodeId}`,
      CONNECT_TIMEOUT_MS,
      ANSWER_BYTES_MAX,
    );
    this.connections.set(brokerId, opening);
    opening.catch(() => {
      if (this.connections.get(brokerId) === opening) this.connections.delete(brokerId);
    });
    return opening;
  }

  close(): void {
    this.closed = true;
    for (const opening of this.connections.values())
      void opening.then(
        (c) => c.close(),
        () => undefined,
      );
    this.connections.clear();
  }
}
