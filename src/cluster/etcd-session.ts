// One broker's connection to etcd: a lease that lives while the broker does, the keys written under it
// (its registration, the controller key while it is the controller), a snapshot of the cluster's
// prefix followed by a watch from the snapshot's revision (events delivered in revision order, never
// one missed), and the controller's fenced writes.
//
// The lease is the broker's life in the cluster. etcd ends it `sessionTimeoutMs` after the last
// keep-alive it received; the broker cannot know when etcd did so, so it counts from the last
// keep-alive etcd *acknowledged*: past the session timeout it must assume the lease is gone and stop
// acting as a leader (leaseFresh() false), whatever it last heard. When the lease is lost for sure
// a new one is granted and the registration written again: the broker rejoins as a new session.
import { Etcd3, type Lease, type Namespace, type Watcher } from 'etcd3';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../broker/logger.js';
import type { KeyEvent } from './cluster-state.js';

export interface EtcdSessionOptions {
  endpoints: string[];
  /** Every key of the cluster lives under it, e.g. `/sluice/<cluster-name>/`. */
  prefix: string;
  sessionTimeoutMs: number;
  clock: Clock;
  logger: Logger;
}

export interface Snapshot {
  events: KeyEvent[];
  /** key → create revision, for the controller key's fence. */
  createRevisions: Map<string, string>;
  revision: string;
}

export interface Write {
  put?: { key: string; value: string };
  delete?: string;
  /** The write happens only if the key's mod revision is still this ('0': the key must not exist). */
  ifModRevision?: { key: string; modRevision: string };
}

export class EtcdSession {
  private readonly client: Etcd3;
  private readonly ns: Namespace;
  private lease: Lease | null = null;
  private leaseId = '';
  private lastAcknowledgedAt = -Infinity;
  private watcher: Watcher | null = null;
  private closed = false;
  /** The one loop granting a new lease after the last was lost (lost events of failed grants join it). */
  private regranting: Promise<void> | null = null;
  /** Keys rewritten under each new lease (the registration). */
  private readonly underLease = new Map<string, string>();
  /** Runs after a new lease replaced a lost one and the keys under it were written again. */
  onNewLease: () => void | Promise<void> = () => {};

  constructor(private readonly options: EtcdSessionOptions) {
    this.client = new Etcd3({ hosts: options.endpoints, dialTimeout: 2000 });
    this.ns = this.client.namespace(options.prefix);
  }

  get ttlSeconds(): number {
    return Math.max(2, Math.round(this.options.sessionTimeoutMs / 1000));
  }

  /** Grants the first lease; rejects if etcd cannot be reached. */
  async open(): Promise<void> {
    await this.grant();
  }

  private async grant(): Promise<void> {
    const lease = this.client.lease(this.ttlSeconds);
    this.lease = lease;
    lease.on('keepaliveSucceeded', () => {
      if (this.lease === lease) this.lastAcknowledgedAt = this.options.clock.now();
    });
    lease.on('lost', (error) => {
      if (this.closed || this.lease !== lease) return;
      this.lastAcknowledgedAt = -Infinity;
      if (this.regranting !== null) return;
      this.options.logger.warn({ error: String(error) }, 'etcd lease lost: joining again with a new one');
      this.regranting = this.regrant().finally(() => (this.regranting = null));
    });
    const asked = this.options.clock.now();
    this.leaseId = await lease.grant();
    this.lastAcknowledgedAt = asked;
  }

  private async regrant(): Promise<void> {
    while (!this.closed) {
      try {
        this.lease?.release();
        await this.grant();
        for (const [key, value] of this.underLease) await this.ns.put(key).value(value).lease(this.leaseId).exec();
        await this.onNewLease();
        return;
      } catch (error) {
        this.options.logger.warn({ error: String(error) }, 'etcd unreachable: retrying the lease');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** True while etcd acknowledged a keep-alive within the session timeout: the lease may still live. */
  leaseFresh(): boolean {
    return this.options.clock.now() - this.lastAcknowledgedAt < this.options.sessionTimeoutMs;
  }

  get currentLeaseId(): string {
    return this.leaseId;
  }

  /** Writes `key` under the lease, and again under every later lease. */
  async putUnderLease(key: string, value: string): Promise<void> {
    this.underLease.set(key, value);
    await this.ns.put(key).value(value).lease(this.leaseId).exec();
  }

  /** Everything under the prefix now, and the revision it was read at. */
  async snapshot(): Promise<Snapshot> {
    const range = await this.ns.getAll().exec();
    const createRevisions = new Map<string, string>();
    const events: KeyEvent[] = range.kvs.map((kv) => {
      const key = kv.key.toString();
      createRevisions.set(key, kv.create_revision);
      return { kind: 'put', key, value: kv.value.toString(), modRevision: kv.mod_revision };
    });
    return { events, createRevisions, revision: range.header.revision };
  }

  /** Everything under the prefix, then every change after it, in revision order. */
  async watch(onEvents: (events: KeyEvent[], createRevisions: Map<string, string>) => void): Promise<void> {
    const { events, createRevisions, revision } = await this.snapshot();
    onEvents(events, createRevisions);
    const next = (BigInt(revision) + 1n).toString();
    this.watcher = await this.ns.watch().prefix('').startRevision(next).create();
    this.watcher.on('data', (response) => {
      const revisions = new Map<string, string>();
      const batch: KeyEvent[] = response.events.map((event) => {
        const key = event.kv.key.toString();
        revisions.set(key, event.kv.create_revision);
        return {
          kind: event.type === 'Put' ? 'put' : 'delete',
          key,
          value: event.kv.value?.toString() ?? '',
          modRevision: event.kv.mod_revision,
        };
      });
      if (batch.length > 0) onEvents(batch, revisions);
    });
    this.watcher.on('error', (error) => this.options.logger.warn({ error: String(error) }, 'etcd watch error'));
  }

  /**
   * The election: takes the controller key under this broker's lease if no one holds it. Resolves with
   * the key's create revision (the fence of every write of this controller), or null if another holds it.
   */
  async campaign(controllerKey: string, value: string): Promise<string | null> {
    const result = await this.ns
      .if(controllerKey, 'Create', '==', 0)
      .then(this.ns.put(controllerKey).value(value).lease(this.leaseId))
      .commit();
    return result.succeeded ? result.header.revision : null;
  }

  /** Writes `key` if it does not exist (not under the lease: it outlives this broker). */
  async createIfAbsent(key: string, value: string): Promise<void> {
    await this.ns.if(key, 'Create', '==', 0).then(this.ns.put(key).value(value)).commit();
  }

  /**
   * Reserves `size` ids of a counter kept in etcd under `key` (not under the lease: it outlives every
   * broker): read, then compare-and-swap on the key's mod revision, again until no other broker
   * reserved in between. Resolves with the first id of the block.
   */
  async reserveFromCounter(key: string, size: number): Promise<number> {
    for (;;) {
      const range = await this.ns.get(key).exec();
      const kv = range.kvs[0];
      const start = kv === undefined ? 0 : Number(kv.value.toString());
      if (!Number.isSafeInteger(start) || start < 0) throw new Error(`etcd key ${key} holds no counter`);
      const modRevision = kv === undefined ? '0' : kv.mod_revision;
      const result = await this.ns
        .if(key, 'Mod', '==', modRevision)
        .then(this.ns.put(key).value(String(start + size)))
        .commit();
      if (result.succeeded) return start;
    }
  }

  /** Writes all of `writes` in one transaction if this broker still holds the controller key it took at
   *  `fence` and every `ifModRevision` holds. Resolves false when a condition failed (nothing written). */
  async fencedWrite(controllerKey: string, fence: string, writes: readonly Write[]): Promise<boolean> {
    let txn = this.ns.if(controllerKey, 'Create', '==', fence);
    for (const w of writes)
      if (w.ifModRevision) txn = txn.and(w.ifModRevision.key, 'Mod', '==', w.ifModRevision.modRevision);
    const ops = writes.flatMap((w) => [
      ...(w.put ? [this.ns.put(w.put.key).value(w.put.value)] : []),
      ...(w.delete !== undefined ? [this.ns.delete().key(w.delete)] : []),
    ]);
    const result = await txn.then(...ops).commit();
    return result.succeeded;
  }

  /** A plain write (a broker's own request or proposal), under the lease so it goes when the broker does. */
  async put(key: string, value: string): Promise<void> {
    await this.ns.put(key).value(value).lease(this.leaseId).exec();
  }

  async delete(key: string): Promise<void> {
    await this.ns.delete().key(key).exec();
  }

  /** Ends the session: the lease is revoked, so everything under it goes at once (not after the TTL). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.watcher?.cancel().catch(() => undefined);
    try {
      await this.lease?.revoke();
    } catch {
      // etcd unreachable: the lease ends by itself after its TTL
    }
    this.client.close();
  }
}
