// Which partitions of its internal topic a coordinator serves on this broker. Kafka's group and
// transaction coordinators run on the leader of the partition of `__consumer_offsets` /
// `__transaction_state` that their key hashes to, and move with it: a broker that becomes the leader
// loads that partition's state before it answers for it, and drops the state when it stops leading.
// One node leads every partition from open, so there the whole topic is loaded at open, as before.
//
// A coordinator keeps one PartitionOwnership for its topic and asks `check(partition)` before every
// request for a key of that partition; the broker calls `refresh()` when leadership may have moved
// (the cluster's replica manager after each pass, a lost etcd lease):
//
//   | this broker, for the partition  | state held          | check() answers             | and                 |
//   |---------------------------------|---------------------|-----------------------------|---------------------|
//   | leads it at epoch e             | loaded at e         | NONE                        |                     |
//   | leads it at e                   | none, or older      | COORDINATOR_LOAD_IN_PROGRESS| unloads, loads at e |
//   | leads it at e, loading at e     | —                   | COORDINATOR_LOAD_IN_PROGRESS|                     |
//   | is named leader, not leading yet| any                 | COORDINATOR_LOAD_IN_PROGRESS| unloads             |
//   | does not lead it                | any                 | NOT_COORDINATOR             | unloads             |
//   | (the topic does not exist yet)  | —                   | NONE                        | nothing is stored   |
//
// A load reads the partition up to its log end as it was at election, once the high watermark reached
// it (the new leader's own log is the truth, and nothing it loads can be taken back after that). A
// load applies what it read in one synchronous step at its end, and only if no change of leadership
// overtook it, so two loads of one partition never mix. A topic this coordinator just created is
// adopted without a load: it is empty.
import { ErrorCode } from '../protocol/generated/error-codes.js';
import type { Logger } from './logger.js';

export interface OwnedPartitionState {
  /** Reads the partition's records (up to its settled end), then — in one synchronous step, and only
   *  if `current()` still says so — takes up its state. A load overtaken meanwhile applies nothing. */
  load(partition: number, current: () => boolean): Promise<void>;
  /** Drops every piece of state of the partition (timers cancelled, waiting requests answered). */
  unload(partition: number): void;
}

export interface OwnershipSource {
  /** Partitions of the topic, or null while it does not exist. */
  partitionCount(): number | null;
  /** The leader epoch at which this broker leads the partition and may act for it, or -1. */
  leaderEpoch(partition: number): number;
  /** True when the partition's log here holds no record (nothing to load). */
  isEmpty(partition: number): boolean;
  /** True while this broker is named the leader but does not act as one yet (services.ts). */
  leaderPending?(partition: number): boolean;
}

interface Slot {
  /** The epoch whose state is held, or -1. */
  loaded: number;
  /** The epoch being loaded, or -1. */
  loading: number;
  /** Bumped by every unload: a load that started before one is stale when it ends. */
  generation: number;
}

export class PartitionOwnership {
  private readonly slots = new Map<number, Slot>();
  private readonly loads = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly topic: string,
    private readonly source: OwnershipSource,
    private readonly state: OwnedPartitionState,
    private readonly logger: Logger,
    private readonly component: string,
  ) {}

  /** NONE when this broker serves the partition now; otherwise the error the request gets. */
  check(partition: number): number {
    if (this.closed) return ErrorCode.NOT_COORDINATOR;
    if (this.source.partitionCount() === null) return ErrorCode.NONE;
    const epoch = this.source.leaderEpoch(partition);
    const slot = this.slot(partition);
    if (epoch < 0) {
      if (slot.loaded >= 0 || slot.loading >= 0) this.unload(partition, slot, 'no longer the leader');
      // Named the leader, not yet leading: the client waits here (kafkajs gives up a TxnOffsetCommit
      // answered NOT_COORDINATOR: it knows that code by another name).
      return this.source.leaderPending?.(partition)
        ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
        : ErrorCode.NOT_COORDINATOR;
    }
    if (slot.loaded === epoch) return ErrorCode.NONE;
    if (slot.loading !== epoch) {
      if (slot.loaded >= 0 || slot.loading >= 0) this.unload(partition, slot, `leader again at epoch ${epoch}`);
      this.startLoad(partition, slot, epoch);
    }
    return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
  }

  /** True when the partition is loaded here now (no load is started). */
  owns(partition: number): boolean {
    const slot = this.slots.get(partition);
    return slot !== undefined && slot.loaded >= 0 && slot.loaded === this.source.leaderEpoch(partition);
  }

  /** Checks every partition: loads what is led here and not loaded, drops what is not led. */
  refresh(): void {
    const count = this.source.partitionCount();
    if (count === null || this.closed) return;
    for (let partition = 0; partition < count; partition++) this.check(partition);
  }

  /** refresh(), then waits for every load it started (and those already under way). */
  async settle(): Promise<void> {
    this.refresh();
    while (this.loads.size > 0) await Promise.allSettled([...this.loads]);
  }

  /** The topic was just created by this coordinator: what it leads of it (and is empty, as a new topic's
   *  partitions are) is held at once, without a load. */
  adoptCreated(): void {
    const count = this.source.partitionCount();
    if (count === null) return;
    for (let partition = 0; partition < count; partition++) {
      const epoch = this.source.leaderEpoch(partition);
      const slot = this.slot(partition);
      if (epoch >= 0 && slot.loaded < 0 && slot.loading < 0 && this.source.isEmpty(partition)) slot.loaded = epoch;
    }
  }

  close(): void {
    this.closed = true;
  }

  private slot(partition: number): Slot {
    let slot = this.slots.get(partition);
    if (slot === undefined) this.slots.set(partition, (slot = { loaded: -1, loading: -1, generation: 0 }));
    return slot;
  }

  private unload(partition: number, slot: Slot, why: string): void {
    const held = slot.loaded;
    slot.loaded = -1;
    slot.loading = -1;
    slot.generation++;
    this.state.unload(partition);
    this.logger.info(
      { component: this.component, topic: this.topic, partition, epoch: held, why },
      'partition unloaded',
    );
  }

  private startLoad(partition: number, slot: Slot, epoch: number): void {
    slot.loading = epoch;
    const generation = slot.generation;
    const current = () => !this.closed && slot.generation === generation && slot.loading === epoch;
    const load = this.state
      .load(partition, current)
      .then(
        () => {
          if (slot.generation !== generation || slot.loading !== epoch) return; // overtaken: applied nothing
          slot.loading = -1;
          slot.loaded = epoch;
          this.logger.debug({ component: this.component, topic: this.topic, partition, epoch }, 'partition loaded');
          // Leadership may have moved while it loaded.
          if (this.source.leaderEpoch(partition) !== epoch) this.check(partition);
        },
        (error: unknown) => {
          if (slot.generation === generation && slot.loading === epoch) {
            slot.loading = -1;
            slot.generation++;
            this.state.unload(partition); // it may have applied part of what it read
          }
          this.logger.warn(
            { component: this.component, topic: this.topic, partition, epoch, error: String(error) },
            'partition not loaded; the next request tries again',
          );
        },
      )
      .finally(() => this.loads.delete(load));
    this.loads.add(load);
  }
}
