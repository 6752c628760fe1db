// The broker's topics: name → id, partition count, config overrides. Persisted as topics.json in the
// data directory, replaced atomically on every change (topic changes are rare; a whole-file rewrite
// keeps the format obvious to an operator). Partition logs live beside it as <topic>-<partition>/.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from './data-dir.js';
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

const FILE = 'topics.json';
/** Bounds what CreateTopics/CreatePartitions may ask for, so a request cannot make us create millions of directories. */
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

  constructor(private readonly dataDir: string) {
    let text: string | null = null;
    try {
      text = readFileSync(join(dataDir, FILE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text !== null) {
      const stored = JSON.parse(text) as { topics: StoredTopic[] };
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

  private save(): void {
    const stored: StoredTopic[] = [...this.topics.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((t) => ({ name: t.name, id: t.id.toString('base64url'), partitions: t.partitions, configs: t.configs }));
    writeFileDurably(this.dataDir, FILE, JSON.stringify({ topics: stored }, null, 2) + '\n');
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

  create(name: string, partitions: number, configs: Record<string, string>): Topic {
    if (this.topics.has(name)) throw new Error(`topic ${name} exists`);
    const topic: Topic = { name, id: newTopicId(), partitions, configs };
    this.remember(topic);
    this.save();
    return topic;
  }

  delete(name: string): void {
    if (!this.topics.delete(name)) return;
    this.byCollisionKey.delete(collisionKey(name));
    this.save();
  }

  setPartitions(name: string, partitions: number): void {
    const topic = this.topics.get(name)!;
    topic.partitions = partitions;
    this.save();
  }

  setConfigs(name: string, configs: Record<string, string>): void {
    const topic = this.topics.get(name)!;
    topic.configs = configs;
    this.save();
  }
}
