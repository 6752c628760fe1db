// The adapters broker.ts hands its services (the interfaces are in services.ts): thin views of the
// broker's partitions and topics, so a service reaches exactly what its interface lists. When the
// broker's partitions change shape, these bodies change and the services do not.
import { ControlRecordType, encodeControlBatch } from '../protocol/record-batch/control.js';
import { RecordBatchHeader } from '../protocol/record-batch/header.js';
import { invariant } from '../storage/errors.js';
import type { MetadataView } from './metadata/view.js';
import type { PartitionSet } from './partition-set.js';
import type {
  AppendWaiter,
  AppendWatcher,
  Clock,
  Failure,
  InternalTopicWriter,
  PartitionLeadership,
  PartitionLookup,
  PartitionView,
  TransactionMarkerWriter,
} from './services.js';
import { isInternalTopic } from './topic-names.js';

/** The broker's partitions as a service sees them: look up, read, create, append to internal topics, watch,
 *  and who leads them. */
export class ServicePartitions implements PartitionLookup, InternalTopicWriter, AppendWatcher, PartitionLeadership {
  constructor(
    private readonly partitions: PartitionSet,
    private readonly topics: { get(name: string): { partitions: number } | undefined },
    private readonly create: (topic: string, partitions: number, configs: Record<string, string>) => Promise<Failure>,
    /** The broker's metadata view (metadata/view.ts) once open: it says who leads. Without one (a service
     *  on partitions without a broker), the open partition's own role says it. */
    private readonly view: () => MetadataView | undefined = () => undefined,
  ) {}

  leaderEpoch(topic: string, partition: number): number {
    const view = this.view();
    if (view !== undefined) {
      const placement = view.placement(topic, partition);
      return placement !== undefined && placement.leaderId === view.localNodeId ? placement.leaderEpoch : -1;
    }
    const found = this.partitions.get(topic, partition);
    return found !== undefined && found.role === 'leader' ? found.leaderEpoch : -1;
  }

  leaderPending(topic: string, partition: number): boolean {
    const view = this.view();
    return (
      view?.namedLeader !== undefined &&
      view.namedLeader(topic, partition) === view.localNodeId &&
      this.leaderEpoch(topic, partition) < 0
    );
  }

  async settled(topic: string, partition: number): Promise<void> {
    const found = this.partitions.get(topic, partition);
    if (!found) throw new Error(`${topic}-${partition} is not open`);
    const refused = await found.committedThrough(found.logEndOffset);
    if (refused !== null) throw new Error(`${topic}-${partition}: ${refused.errorMessage ?? refused.errorCode}`);
  }

  partitionCount(topic: string): number | null {
    return this.topics.get(topic)?.partitions ?? null;
  }

  partition(topic: string, partition: number): PartitionView | undefined {
    return this.partitions.get(topic, partition);
  }

  createTopic(topic: string, partitions: number, configs: Record<string, string>): Promise<Failure> {
    return this.create(topic, partitions, configs);
  }

  async append(topic: string, partition: number, batch: Buffer): Promise<number> {
    // A client topic is written through the produce path (its checks, its producer state), never here.
    invariant(isInternalTopic(topic), () => `${topic} is not an internal topic: a service may not append to it`);
    const found = this.partitions.get(topic, partition);
    if (!found) throw new Error(`${topic}-${partition} is not open`);
    const { baseOffset, lastOffset } = await found.append(batch); // its high watermark moves: parked fetches wake
    // One node: committed already. A cluster: once every in-sync replica has it (acks=-1).
    const refused = await found.committedThrough(lastOffset + 1);
    if (refused !== null) throw new Error(`${topic}-${partition}: ${refused.errorMessage ?? refused.errorCode}`);
    return baseOffset;
  }

  addWaiter(topic: string, partition: number, waiter: AppendWaiter): void {
    this.partitions.get(topic, partition)?.park(waiter);
  }

  removeWaiter(topic: string, partition: number, waiter: AppendWaiter): void {
    this.partitions.get(topic, partition)?.unpark(waiter);
  }
}

/**
 * Appends a COMMIT or ABORT marker for a producer's transaction to one partition this broker leads (a
 * single node writes all its markers so: no WriteTxnMarkers) and resolves when it is committed. The
 * marker goes through the producer state (it ends the producer's transaction there and carries its epoch, so a fenced
 * producer's later batches are refused) and the partition's transaction state (the last stable offset
 * moves; an abort joins the aborted list). A partition that is gone is skipped.
 */
export class PartitionMarkerWriter implements TransactionMarkerWriter {
  constructor(
    private readonly partitions: PartitionSet,
    private readonly clock: Clock,
  ) {}

  async writeTransactionMarker(
    topic: string,
    partition: number,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
  ): Promise<void> {
    const found = this.partitions.get(topic, partition);
    if (!found) return;
    const { transactions, producers } = found;
    if (found.appendRefusal !== null) throw found.appendRefusal; // read-only, or a follower
    const type = commit ? ControlRecordType.Commit : ControlRecordType.Abort;
    const batch = encodeControlBatch({ producerId, producerEpoch, coordinatorEpoch: 0, type });
    await transactions.markTransactional();
    if (found.appendRefusal !== null) throw found.appendRefusal;
    const appended = found.append(batch); // assigns the offset into `batch` synchronously
    const view = new RecordBatchHeader(batch);
    producers.record(view, this.clock.now());
    transactions.apply(view, type);
    const { lastOffset } = await appended;
    // One node: committed already. A cluster: once every in-sync replica has it, as Kafka's markers
    // are appended with acks=-1 (a marker only the old leader had would end nothing after a failover).
    const refused = await found.committedThrough(lastOffset + 1);
    if (refused !== null)
      throw new MarkerNotCommittedError(refused.errorCode, `${topic}-${partition}: ${refused.errorMessage ?? ''}`);
  }
}

/** A marker appended here that the in-sync replicas did not all take (leadership lost, too few in sync):
 *  the coordinator writes it again. `kafkaCode` is the partition's answer. */
export class MarkerNotCommittedError extends Error {
  override readonly name = 'MarkerNotCommittedError';
  constructor(
    readonly kafkaCode: number,
    message: string,
  ) {
    super(message);
  }
}
