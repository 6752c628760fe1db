// One broker as a member of a cluster: its etcd session, its copy of the cluster state, the metadata
// view built from it, the controller (active while this broker holds the election), the replica
// manager (leads and follows partitions as the state says), the admin requests it files for the
// controller, and the leader's side of replica fetches. `sluice start --cluster-etcd …` builds one
// before the broker opens and joins once its listener is bound (the registration carries the port).
import { randomBytes } from 'node:crypto';
import type { Broker, TopicRequests } from '../broker/broker.js';
import type { Logger } from '../broker/logger.js';
import type { MetadataView } from '../broker/metadata/view.js';
import type { TransactionMarkerWriter } from '../broker/services.js';
import type { Clock } from '../runtime/clock.js';
import { ClusterMetadataView } from './cluster-view.js';
import { ClusterState, type KeyEvent } from './cluster-state.js';
import { Controller } from './controller.js';
import { EtcdSession } from './etcd-session.js';
import { ClusterMarkerWriter } from './marker-writer.js';
import { ReplicaManager } from './replica-manager.js';
import { ClusterTopicRequests } from './topic-requests.js';
import { serveReplicaFetch } from './replica-serving.js';
import type { FetchRequest, FetchResponseInput } from '../protocol/generated/fetch.js';

export interface ClusterSettings {
  endpoints: string[];
  name: string;
  sessionTimeoutMs: number;
  rack: string | null;
  replicaLagTimeMaxMs: number;
  defaultReplicationFactor: number;
  uncleanLeaderElection: boolean;
}

/** The cluster settings of a broker, or null when it runs alone (no `sluice.cluster.etcd`). */
export function clusterSettingsFrom(properties: Record<string, string>): ClusterSettings | null {
  const etcd = (properties['sluice.cluster.etcd'] ?? '').trim();
  if (etcd === '') return null;
  return {
    endpoints: etcd
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== ''),
    name: properties['sluice.cluster.name'] ?? 'sluice',
    sessionTimeoutMs: Number(properties['sluice.cluster.session.timeout.ms'] ?? 6000),
    rack: (properties['broker.rack'] ?? '') === '' ? null : properties['broker.rack']!,
    replicaLagTimeMaxMs: Number(properties['replica.lag.time.max.ms'] ?? 30_000),
    defaultReplicationFactor: Number(properties['default.replication.factor'] ?? 1),
    uncleanLeaderElection: properties['unclean.leader.election.enable'] === 'true',
  };
}

/** How often the lease's freshness is checked: a stale lease stops every leadership here. */
const LEASE_CHECK_MS = 250;
const CLUSTER_ID_KEY = 'cluster-id';

export class ClusterNode {
  readonly state = new ClusterState();
  readonly view: ClusterMetadataView;
  private broker: Broker | null = null;
  private controller: Controller | null = null;
  private replicas: ReplicaManager | null = null;
  private waiters = new Set<() => void>();
  private leaseTimer: NodeJS.Timeout | null = null;
  private resigned = false;
  private markers: ClusterMarkerWriter | null = null;
  /** False from the moment the lease may have ended until a fresh snapshot of etcd is applied: a broker
   *  that was cut off takes up no leadership from what it knew before (others may have moved it since). */
  private synced = true;
  /** Watch events at or below this revision are older than the last snapshot applied: dropped. */
  private snapshotRevision = 0n;
  readonly topicRequests: TopicRequests;

  private constructor(
    readonly settings: ClusterSettings,
    readonly localId: number,
    readonly session: EtcdSession,
    private readonly logger: Logger,
    readonly clock: Clock,
  ) {
    this.view = new ClusterMetadataView('', localId, this.state, {
      leadingEpoch: (topic, partition) => this.replicas?.leadingEpoch(topic, partition) ?? -1,
      leaseFresh: () => this.mayLead(),
      localInternal: (topic, partition) => this.broker?.partitions.get(topic, partition),
    });
    this.topicRequests = new ClusterTopicRequests(this);
  }

  /** Connects to etcd, takes a lease and loads the cluster state; rejects if etcd cannot be reached. */
  static async connect(settings: ClusterSettings, localId: number, logger: Logger, clock: Clock): Promise<ClusterNode> {
    const session = new EtcdSession({
      endpoints: settings.endpoints,
      prefix: `/sluice/${settings.name}/`,
      sessionTimeoutMs: settings.sessionTimeoutMs,
      clock,
      logger,
    });
    await session.open();
    const node = new ClusterNode(settings, localId, session, logger, clock);
    await session.createIfAbsent(CLUSTER_ID_KEY, randomBytes(16).toString('base64url'));
    await session.watch((events, createRevisions) => node.applied(events, createRevisions));
    (node.view as { clusterId: string }).clusterId = node.state.clusterId ?? '';
    return node;
  }

  get clusterId(): string {
    return this.view.clusterId;
  }

  metadata(): MetadataView {
    return this.view;
  }

  /** The transaction coordinator's markers: `local` for partitions led here, WriteTxnMarkers for the rest.
   *  A marker is retried for twice the session timeout (a failover) plus a second, then left to the
   *  coordinator's timer. */
  markerWriter(local: TransactionMarkerWriter): TransactionMarkerWriter {
    this.markers = new ClusterMarkerWriter(this.view, local, {
      timeoutMs: 2 * this.settings.sessionTimeoutMs + 1_000,
      clock: this.clock,
    });
    return this.markers;
  }

  /** This broker may act as a leader: its lease may live, and its state is not from before a gap. */
  private mayLead(): boolean {
    return this.synced && this.session.leaseFresh();
  }

  private applied(events: KeyEvent[], createRevisions: Map<string, string>): void {
    const before = this.state.unreadable.length;
    for (const event of events)
      if (BigInt(event.modRevision) > this.snapshotRevision) this.state.apply(event, createRevisions.get(event.key));
    for (const key of this.state.unreadable.slice(before)) this.logger.warn({ key }, 'etcd key ignored: not readable');
    this.view.refresh();
    this.controller?.changed();
    this.replicas?.changed();
    this.wakeWaiters();
  }

  /** Registers this broker (its advertised listener, rack), starts the controller and the replicas. */
  async join(broker: Broker): Promise<void> {
    this.broker = broker;
    const { localId, settings, session, logger, clock } = this;
    const props = broker.config.properties;
    this.replicas = new ReplicaManager({
      broker,
      state: this.state,
      localId,
      proposer: {
        propose: (topic, partition, leaderEpoch, isr) => {
          logger.info({ topic, partition, leaderEpoch, isr }, 'proposing an ISR change');
          session
            .put(`isr/${topic}/${partition}`, JSON.stringify({ leader: localId, leaderEpoch, isr }))
            .catch((error: unknown) => logger.warn({ error: String(error) }, 'ISR proposal not written'));
        },
      },
      fetcher: {
        replicaFetchMaxBytes: Math.max(1, Number(props['replica.fetch.max.bytes'] ?? 1024 * 1024)),
        fetchMaxBytes: broker.config.fetchMaxBytes,
        maxFrameBytes: Number(props['socket.request.max.bytes'] ?? 100 * 1024 * 1024) + 1024 * 1024,
        logger,
      },
      replicaLagTimeMaxMs: settings.replicaLagTimeMaxMs,
      logger,
      clock,
    });
    this.replicas.leaseFresh = () => this.mayLead();
    this.replicas.onPass = () => this.wakeWaiters();
    this.replicas.start();
    await this.register(false);
    session.onNewLease = () => this.resync();
    this.controller = new Controller(localId, session, this.state, settings, logger);
    this.controller.start();
    this.leaseTimer = setInterval(() => this.checkLease(), LEASE_CHECK_MS).unref();
    this.replicas.changed();
    logger.info({ nodeId: localId, cluster: settings.name, etcd: settings.endpoints }, 'joined the cluster');
  }

  private register(shuttingDown: boolean): Promise<void> {
    const broker = this.broker!;
    return this.session.putUnderLease(
      `brokers/${this.localId}`,
      JSON.stringify({
        nodeId: this.localId,
        host: broker.config.advertisedHost,
        port: broker.config.advertisedPort,
        rack: this.settings.rack,
        shuttingDown,
      }),
    );
  }

  /** The lease may have ended: this broker cannot know it still leads, so it stops now. */
  private checkLease(): void {
    const fresh = this.session.leaseFresh();
    if (!fresh && !this.resigned) {
      this.resigned = true;
      this.synced = false;
      this.logger.warn(
        { nodeId: this.localId },
        'etcd lease not renewed within the session timeout: resigning every leadership',
      );
      this.replicas?.resignAll();
    } else if (fresh && this.resigned) {
      this.resigned = false;
      void this.resync();
    }
  }

  /** Reads etcd afresh and replaces the state with it, then lets the replicas take their roles. */
  private async resync(): Promise<void> {
    try {
      const snapshot = await this.session.snapshot();
      this.state.reset();
      this.snapshotRevision = BigInt(snapshot.revision);
      for (const event of snapshot.events) this.state.apply(event, snapshot.createRevisions.get(event.key));
      this.synced = true;
      this.logger.info({ revision: snapshot.revision }, 'cluster state read afresh from etcd');
      this.view.refresh();
      this.controller?.changed();
      this.replicas?.changed();
      this.wakeWaiters();
    } catch (error) {
      this.logger.warn({ error: String(error) }, 'etcd snapshot failed; the lease check tries again');
      this.resigned = true; // checkLease tries again while the lease is fresh
    }
  }

  /** Resolves once `condition` holds after a state change or replica pass, or with false after `timeoutMs`. */
  waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(false);
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  private wakeWaiters(): void {
    for (const check of [...this.waiters]) check();
  }

  get brokerOrNull(): Broker | null {
    return this.broker;
  }

  replicaFetch(request: FetchRequest, signal?: AbortSignal): Promise<FetchResponseInput> {
    return serveReplicaFetch(
      { clock: this.clock, leaseFresh: () => this.session.leaseFresh() },
      this.replicas,
      request,
      signal,
    );
  }

  /**
   * SIGTERM: a controlled shutdown. The registration says `shuttingDown`, the controller moves this
   * broker's leaderships to other in-sync replicas, and this waits (up to the session timeout) until
   * it leads nothing; then the session ends and the lease with it.
   */
  async shutdown(): Promise<void> {
    try {
      const others = this.state.eligibleBrokers().filter((id) => id !== this.localId);
      // With no other live broker there is no one to hand leaderships to: stop at once.
      if (this.broker !== null && this.replicas !== null && this.session.leaseFresh() && others.length > 0) {
        await this.register(true);
        const moved = await this.waitFor(() => this.replicas!.leadershipCount === 0, this.settings.sessionTimeoutMs);
        this.logger.info({ moved, leading: this.replicas.leadershipCount }, 'controlled shutdown: leaderships moved');
      }
    } catch (error) {
      this.logger.warn({ error: String(error) }, 'controlled shutdown could not move leaderships');
    }
    await this.close();
  }

  async close(): Promise<void> {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.markers?.close();
    this.controller?.stop();
    await this.replicas?.stop();
    await this.session.close();
  }
}
