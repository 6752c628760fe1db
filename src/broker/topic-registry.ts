// The broker's topics: name → id, partition count, config overrides. Persisted as topics.json in the
// data directory, replaced atomically on every change (topic changes are rare; a whole-file rewrite
// keeps the format obvious to an operator). Partition logs live beside it as <topic>-<partition>/.
//
// topics.json is where a deletion takes effect (Kafka's metadata record): the topic leaves `topics`
// and joins `deleting` (name and id) in the same write. Its partition directories are renamed
// `-delete` next; once they are, the entry leaves `deleting`. A broker that stopped in between finds
// the entry at start and renames what is left before it opens any partition (PartitionSet.finishDeletions).
//
// A change shows in memory at once (a second CreateTopics of the name sees it) and its write to disk
// is asynchronous; the change's promise resolves once topics.json holds it, or rejects after putting
// memory back. Writes run one at a time, in call order, each writing memory as it is at its turn, so
// the file never goes back to an older state and a failed write's change is not in any later one.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { readTextIfExists, writeFileDurably } from '../storage/durable-files.js';
import { collisionKey } from './topic-names.js';

export interface Topic {
  name: string;
  /** 16 random bytes, never all zero (Kafka's "no id"). */
  id: Buffer;
  partitions: number;
  /** Config overrides with Kafka names (`retention.ms`, …). */
  configs: Record<string, string>;
}

interface StoredTopic {
  name: string;
  id: string; // base64url, as Kafka prints topic ids
  partitions: number;
  configs: Record<string, string>;
}

/** A deleted topic whose partition directories may still carry their old names. */
export interface DeletedTopic {
  name: string;
  id: Buffer;
}

const FILE = 'topics.json';
/**
 * Bounds what CreateTopics/CreatePartitions may ask for, so a request cannot make us create millions of
 * directories.
 */
export const PARTITIONS_PER_TOPIC_MAX = 10_000;

export function newTopicId(): Buffer {
  for (;;) {
    const id = randomBytes(16);
    if (!id.every((b) => b === 0)) return id;
  }
}

export class TopicRegistry {
  private readonly topics = new Map<string, Topic>();
  private readonly byCollisionKey = new Map<string, string>();
  private deleting: DeletedTopic[] = [];
  /** The last write of topics.json asked for; the next one starts after it. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly dataDir: string) {}

  /** The registry as topics.json has it (empty when there is none yet). */
  static async open(dataDir: string): Promise<TopicRegistry> {
    const registry = new TopicRegistry(dataDir);
    registry.load(await readTextIfExists(join(dataDir, FILE)));
    return registry;
  }

  private load(text: string | null): void {
    if (text !== null) {
      const stored = JSON.parse(text) as { topics: StoredTopic[]; deleting?: { name: string; id: string }[] };
      this.deleting = (stored.deleting ?? []).map((t) => ({ name: t.name, id: Buffer.from(t.id, 'base64url') }));
      for (const t of stored.topics)
        this.remember({
          name: t.name,
          id: Buffer.from(t.id, 'base64url'),
          partitions: t.partitions,
          configs: t.configs,
        });
    }
  }

  private remember(topic: Topic): void {
    this.topics.set(topic.name, topic);
    this.byCollisionKey.set(collisionKey(topic.name), topic.name);
  }

  /** Writes topics.json; if that fails (the disk), `undo` puts memory back as the file still has it,
   *  and the error goes to the caller (the broker answers KAFKA_STORAGE_ERROR). */
  private save(undo: () => void): Promise<void> {
    const saved = this.writing
      .then(() => this.write())
      .catch((error: unknown) => {
        undo(); // before the next write starts, so it does not hold this change
        throw error;
      });
    this.writing = saved.catch(() => undefined);
    return saved;
  }

  private write(): Promise<void> {
    const stored: StoredTopic[] = [...this.topics.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((t) => ({ name: t.name, id: t.id.toString('base64url'), partitions: t.partitions, configs: t.configs }));
    const deleting = this.deleting.map((t) => ({ name: t.name, id: t.id.toString('base64url') }));
    const content = deleting.length > 0 ? { topics: stored, deleting } : { topics: stored };
    return writeFileDurably(join(this.dataDir, FILE), JSON.stringify(content, null, 2) + '\n');
  }

  get(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  byId(id: Uint8Array): Topic | undefined {
    for (const topic of this.topics.values()) if (topic.id.equals(id)) return topic;
    return undefined;
  }

  all(): Topic[] {
    return [...this.topics.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The existing topic whose name collides with `name` ('.' vs '_'), if any. */
  collidingWith(name: string): string | undefined {
    const other = this.byCollisionKey.get(collisionKey(name));
    return other !== undefined && other !== name ? other : undefined;
  }

  /** `id`: the topic's id when it is decided elsewhere (a cluster's controller); new otherwise. */
  async create(name: string, partitions: number, configs: Record<string, string>, id?: Buffer): Promise<Topic> {
    if (this.topics.has(name)) throw new Error(`topic ${name} exists`);
    const topic: Topic = { name, id: id ?? newTopicId(), partitions, configs };
    this.remember(topic);
    await this.save(() => {
      if (this.topics.get(name) === topic) this.forget(name);
    });
    return topic;
  }

  /** Deletes a topic; it stays listed in `deletions()` until deletionFinished is called with its id. */
  delete(name: string): Promise<void> {
    const topic = this.topics.get(name);
    if (topic === undefined) return Promise.resolve();
    this.forget(name);
    const deleted = { name, id: topic.id };
    this.deleting.push(deleted);
    return this.save(() => {
      this.deleting = this.deleting.filter((entry) => entry !== deleted);
      if (!this.topics.has(name)) this.remember(topic);
    });
  }

  private forget(name: string): void {
    this.topics.delete(name);
    this.byCollisionKey.delete(collisionKey(name));
  }

  /** Deleted topics whose directories may not all be renamed yet. */
  deletions(): readonly DeletedTopic[] {
    return this.deleting;
  }

  /** The directories of these deleted topics are renamed: forget them. */
  deletionsFinished(ids: readonly Buffer[]): Promise<void> {
    const finished = this.deleting.filter((t) => ids.some((id) => id.equals(t.id)));
    if (finished.length === 0) return Promise.resolve();
    this.deleting = this.deleting.filter((t) => !finished.includes(t));
    // Put back in front: the entries finished here are older than any deleted since.
    return this.save(() => (this.deleting = [...finished, ...this.deleting]));
  }

  setPartitions(name: string, partitions: number): Promise<void> {
    const topic = this.topics.get(name)!;
    const before = topic.partitions;
    topic.partitions = Math.max(topic.partitions, partitions); // two CreatePartitions at once: the larger wins
    return this.save(() => {
      if (topic.partitions === partitions) topic.partitions = before;
    });
  }

  setConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const topic = this.topics.get(name)!;
    const before = topic.configs;
    topic.configs = configs;
    return this.save(() => {
      if (topic.configs === configs) topic.configs = before; // unless a later change replaced it
    });
  }
}
