// The cluster as one broker knows it: what etcd holds under the cluster's prefix, applied in revision
// order (a snapshot, then each watch event). Every broker keeps one; the controller decides from its
// own, and its writes are compare-and-swap on the revisions recorded here, so a decision made on a
// stale state fails instead of overwriting a newer one.
import {
  adminRequestFrom,
  brokerRecordFrom,
  controllerRecordFrom,
  isrChangeFrom,
  topicRecordFrom,
  type AdminRequest,
  type BrokerRecord,
  type IsrChange,
  type TopicRecord,
} from './records.js';

export interface KeyEvent {
  kind: 'put' | 'delete';
  /** The key without the cluster prefix, e.g. `topics/orders`. */
  key: string;
  value: string;
  modRevision: string;
}

export interface Versioned<T> {
  value: T;
  modRevision: string;
}

export class ClusterState {
  readonly brokers = new Map<number, BrokerRecord>();
  controller: { nodeId: number; createRevision: string } | null = null;
  /** Written once by the first broker of the cluster; every broker answers with it. */
  clusterId: string | null = null;
  readonly topics = new Map<string, Versioned<TopicRecord>>();
  readonly requests = new Map<string, Versioned<AdminRequest>>();
  /** By `<topic>/<partition>`. */
  readonly isrChanges = new Map<string, Versioned<IsrChange>>();
  /** The revision of the last event applied. */
  revision = '0';
  /** Keys that were there but did not parse: logged once by the caller. */
  readonly unreadable: string[] = [];

  /** Forgets everything but the cluster id, before a fresh snapshot is applied (after etcd was away). */
  reset(): void {
    this.brokers.clear();
    this.controller = null;
    this.topics.clear();
    this.requests.clear();
    this.isrChanges.clear();
  }

  apply(event: KeyEvent, createRevision = event.modRevision): void {
    if (BigInt(event.modRevision) > BigInt(this.revision)) this.revision = event.modRevision;
    const slash = event.key.indexOf('/');
    const kind = slash < 0 ? event.key : event.key.slice(0, slash);
    const rest = slash < 0 ? '' : event.key.slice(slash + 1);
    const removed = event.kind === 'delete';
    switch (kind) {
      case 'brokers': {
        const id = Number(rest);
        if (removed) this.brokers.delete(id);
        else this.remember(event.key, brokerRecordFrom(event.value), (record) => this.brokers.set(id, record));
        return;
      }
      case 'controller':
        if (removed) this.controller = null;
        else
          this.remember(event.key, controllerRecordFrom(event.value), (record) => {
            this.controller = { nodeId: record.nodeId, createRevision };
          });
        return;
      case 'cluster-id':
        if (!removed) this.clusterId = event.value;
        return;
      case 'producer-ids': // the producer id counter: read and moved only by reservations (etcd-session.ts)
        return;
      case 'topics':
        this.keep(this.topics, rest, event, topicRecordFrom);
        return;
      case 'requests':
        this.keep(this.requests, rest, event, adminRequestFrom);
        return;
      case 'isr':
        this.keep(this.isrChanges, rest, event, isrChangeFrom);
        return;
      default:
        this.unreadable.push(event.key);
    }
  }

  private keep<T>(
    into: Map<string, Versioned<T>>,
    name: string,
    event: KeyEvent,
    parse: (text: string) => T | undefined,
  ): void {
    if (event.kind === 'delete') into.delete(name);
    else
      this.remember(event.key, parse(event.value), (value) =>
        into.set(name, { value, modRevision: event.modRevision }),
      );
  }

  private remember<T>(key: string, value: T | undefined, use: (value: T) => void): void {
    if (value === undefined) this.unreadable.push(key);
    else use(value);
  }

  /** Brokers that are registered and not shutting down: where leaders may be placed. */
  eligibleBrokers(): number[] {
    return [...this.brokers.values()]
      .filter((b) => !b.shuttingDown)
      .map((b) => b.nodeId)
      .sort((a, b) => a - b);
  }
}
