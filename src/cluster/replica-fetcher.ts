// A follower's side of replication: one fetcher per leader broker, one connection to it, one Fetch
// (replica_id = this broker) at a time for every partition this broker follows there. Each answer's
// records are appended exactly as the leader has them (Partition.appendReplicated: same offsets,
// same bytes, the leader's epochs), and the follower's high watermark follows the leader's. The next
// fetch goes out only once the last one's records are as durable as the flush policy says, so the
// fetch offset the leader sees is what this follower has made durable.
//
// Before a partition's first fetch from a new leader, its divergent tail goes (KIP-101): the leader
// tells, with OffsetForLeaderEpoch, where this follower's last epoch ends in its own log, and the
// follower truncates to that. A record the new leader does not have is never served by this replica.
import type { Logger } from '../broker/logger.js';
import type { Partition } from '../broker/partition/partition.js';
import { ApiKey, ErrorCode } from '../protocol/generated/index.js';
import type { FetchResponse } from '../protocol/generated/fetch.js';
import type { OffsetForLeaderEpochResponse } from '../protocol/generated/offset-for-leader-epoch.js';
import { PeerConnection } from './peer-connection.js';

const FETCH_VERSION = 12;
const EPOCH_VERSION = 4;
const FETCH_MAX_WAIT_MS = 500;
const RETRY_BACKOFF_MS = 200;
const CONNECT_TIMEOUT_MS = 2000;

export interface FetcherSettings {
  localId: number;
  replicaFetchMaxBytes: number;
  fetchMaxBytes: number;
  maxFrameBytes: number;
  logger: Logger;
}

interface Followed {
  partition: Partition;
  /** The leader epoch the controller recorded for this leadership. */
  leaderEpoch: number;
  truncated: boolean;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class ReplicaFetcher {
  private readonly followed = new Map<string, Followed>();
  private connection: PeerConnection | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(
    readonly leaderId: number,
    private address: { host: string; port: number },
    private readonly settings: FetcherSettings,
  ) {}

  /** Where the leader is now (it may have restarted on another port). */
  moveTo(address: { host: string; port: number }): void {
    if (address.host === this.address.host && address.port === this.address.port) return;
    this.address = address;
    this.connection?.close();
    this.connection = null;
  }

  follow(partition: Partition, leaderEpoch: number): void {
    this.followed.set(keyOf(partition.topic, partition.index), { partition, leaderEpoch, truncated: false });
    this.start();
  }

  unfollow(topic: string, partition: number): void {
    this.followed.delete(keyOf(topic, partition));
  }

  get size(): number {
    return this.followed.size;
  }

  /** Stops fetching; resolves once the append or truncation under way (if any) has finished, so the
   *  broker can close its logs after it. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.connection?.close();
    this.wake?.();
    await this.running;
  }

  private start(): void {
    this.wake?.();
    if (this.running !== null || this.stopped) return;
    this.running = this.run().finally(() => (this.running = null));
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.followed.size > 0) {
      try {
        const connection = await this.connect();
        await this.truncateDivergent(connection);
        await this.fetchOnce(connection);
      } catch (error) {
        if (this.stopped) return;
        this.settings.logger.debug({ leader: this.leaderId, error: String(error) }, 'replica fetch failed; retrying');
        this.connection?.close();
        this.connection = null;
        await this.pause(RETRY_BACKOFF_MS);
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private async connect(): Promise<PeerConnection> {
    if (this.connection !== null && !this.connection.closed) return this.connection;
    const { host, port } = this.address;
    this.connection = await PeerConnection.open(
      host,
      port,
      `sluice-replica-${this.settings.localId}`,
      CONNECT_TIMEOUT_MS,
      this.settings.maxFrameBytes,
    );
    return this.connection;
  }

  /** KIP-101: for each partition not yet truncated under this leadership, cut what the leader lacks. */
  private async truncateDivergent(connection: PeerConnection): Promise<void> {
    const pending = [...this.followed.values()].filter((f) => !f.truncated);
    if (pending.length === 0) return;
    const byTopic = new Map<string, Followed[]>();
    for (const f of pending) byTopic.set(f.partition.topic, [...(byTopic.get(f.partition.topic) ?? []), f]);
    const response = await connection.request<OffsetForLeaderEpochResponse>(
      ApiKey.OffsetForLeaderEpoch,
      EPOCH_VERSION,
      {
        replicaId: this.settings.localId,
        topics: [...byTopic].map(([topic, list]) => ({
          topic,
          partitions: list.map((f) => ({
            partition: f.partition.index,
            currentLeaderEpoch: f.leaderEpoch,
            leaderEpoch: lastEpochOf(f.partition),
          })),
        })),
      },
    );
    for (const topic of response.topics)
      for (const answer of topic.partitions) {
        const f = this.followed.get(keyOf(topic.topic, answer.partition));
        if (f === undefined || f.truncated) continue;
        if (answer.errorCode !== ErrorCode.NONE) continue; // not the leader yet at that epoch: ask again next round
        const mine = lastEpochOf(f.partition);
        let cut = Number(answer.endOffset);
        if (answer.leaderEpoch === -1) cut = Math.min(cut < 0 ? 0 : cut, f.partition.logEndOffset);
        else if (answer.leaderEpoch !== mine) {
          // The leader never had our last epoch: keep what we have of the epoch it names, up to its end there.
          cut = Math.min(cut, f.partition.endOffsetForEpoch(answer.leaderEpoch).endOffset);
        }
        if (cut >= 0 && cut < f.partition.logEndOffset) {
          this.settings.logger.info(
            {
              topic: topic.topic,
              partition: answer.partition,
              from: f.partition.logEndOffset,
              to: cut,
              leader: this.leaderId,
              askedEpoch: mine,
              answer: { leaderEpoch: answer.leaderEpoch, endOffset: Number(answer.endOffset) },
              epochs: f.partition.log.leaderEpochEntries,
            },
            'follower truncates its divergent tail',
          );
          try {
            await f.partition.truncateTo(cut);
          } catch (error) {
            // Below this replica's high watermark (only an unclean election leads there): it cannot follow.
            this.settings.logger.error(
              { topic: topic.topic, partition: answer.partition, to: cut, error: String(error) },
              'divergent tail not truncated: the partition is not followed here until its leader changes',
            );
            this.followed.delete(keyOf(topic.topic, answer.partition));
            continue;
          }
        }
        f.truncated = true;
      }
  }

  private async fetchOnce(connection: PeerConnection): Promise<void> {
    const ready = [...this.followed.values()].filter((f) => f.truncated);
    if (ready.length === 0) {
      await this.pause(RETRY_BACKOFF_MS);
      return;
    }
    const byTopic = new Map<string, Followed[]>();
    for (const f of ready) byTopic.set(f.partition.topic, [...(byTopic.get(f.partition.topic) ?? []), f]);
    const response = await connection.request<FetchResponse>(ApiKey.Fetch, FETCH_VERSION, {
      clusterId: null,
      replicaId: this.settings.localId,
      maxWaitMs: FETCH_MAX_WAIT_MS,
      minBytes: 1,
      maxBytes: this.settings.fetchMaxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...byTopic].map(([topic, list]) => ({
        topic,
        partitions: list.map((f) => ({
          partition: f.partition.index,
          currentLeaderEpoch: f.leaderEpoch,
          fetchOffset: BigInt(f.partition.logEndOffset),
          lastFetchedEpoch: -1,
          logStartOffset: BigInt(f.partition.logStartOffset),
          partitionMaxBytes: this.settings.replicaFetchMaxBytes,
        })),
      })),
      forgottenTopicsData: [],
      rackId: '',
    });
    if (response.errorCode !== ErrorCode.NONE) throw new Error(`fetch error ${response.errorCode}`);
    for (const topic of response.responses)
      for (const data of topic.partitions) {
        const f = this.followed.get(keyOf(topic.topic, data.partitionIndex));
        if (f === undefined || !ready.includes(f)) continue;
        if (data.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
          f.truncated = false; // ask again where our log and the leader's meet
          continue;
        }
        if (data.errorCode !== ErrorCode.NONE) continue; // the metadata will tell us where to go
        const records = data.records;
        if (records !== null && records.length > 0) await f.partition.appendReplicated(records);
        f.partition.followHighWatermark(Number(data.highWatermark));
      }
  }
}

function lastEpochOf(partition: Partition): number {
  const entries = partition.log.leaderEpochEntries;
  return entries.length === 0 ? -1 : entries[entries.length - 1]!.epoch;
}
