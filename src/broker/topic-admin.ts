// The topics of one broker: create (with its configs checked against the broker's limits), delete,
// grow partitions, alter and describe configs. topics.json (topic-registry.ts) says which topics exist;
// the PartitionSet opens and deletes their partitions. A cluster's controller will make these
// decisions instead; the checks stay the same.
import { ErrorCode } from '../protocol/generated/error-codes.js';
import type { BrokerConfig } from './config.js';
import { diskFailure, fail, OK, UNKNOWN_PARTITION } from './failures.js';
import type { Logger } from './logger.js';
import { OneAtATime } from './one-at-a-time.js';
import type { PartitionSet } from './partition-set.js';
import type { Failure } from './services.js';
import { topicSizeLimitProblem } from './size-limits.js';
import { effectiveTopicConfigs, logConfigFor, topicConfigProblem } from './topic-config.js';
import { isInternalTopic, topicNameProblem } from './topic-names.js';
import { PARTITIONS_PER_TOPIC_MAX, type Topic, type TopicRegistry } from './topic-registry.js';

export interface TopicAdminParts {
  config: BrokerConfig;
  topics: TopicRegistry;
  partitions: PartitionSet;
  logger: Logger;
  /** A topic is gone: the services forget what they kept about it (committed offsets). */
  topicDeleted(name: string): Promise<void>;
}

export class TopicAdmin {
  /** Changes to one topic name — create, delete, grow, configs — run one at a time, in call order: each
   *  checks what the one before left (a CreateTopics racing a DeleteTopics of the same name waits for
   *  the old logs to be renamed away before it opens new ones). */
  private readonly changes = new OneAtATime();

  constructor(private readonly parts: TopicAdminParts) {}

  logConfigOf(topic: Topic) {
    return logConfigFor(topic.configs, this.parts.config.properties);
  }

  /** Creates a topic (or only checks that it could be, with `validateOnly`); `topicId` when a cluster's
   *  controller decided it. */
  createTopic(
    name: string,
    partitions: number,
    configs: Record<string, string>,
    validateOnly = false,
    topicId?: Buffer,
  ): Promise<Failure & { topic?: Topic }> {
    return this.changes.run(name, () => this.createTopicNow(name, partitions, configs, validateOnly, topicId));
  }

  private async createTopicNow(
    name: string,
    partitions: number,
    configs: Record<string, string>,
    validateOnly: boolean,
    topicId: Buffer | undefined,
  ): Promise<Failure & { topic?: Topic }> {
    const nameProblem = topicNameProblem(name);
    if (nameProblem) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
    if (this.parts.topics.get(name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
    const colliding = this.parts.topics.collidingWith(name);
    if (colliding)
      return fail(
        ErrorCode.INVALID_TOPIC_EXCEPTION,
        `Topic '${name}' collides with existing topic '${colliding}' ('.' and '_' are interchangeable in metric names)`,
      );
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > PARTITIONS_PER_TOPIC_MAX) {
      return fail(
        ErrorCode.INVALID_PARTITIONS,
        `Number of partitions must be between 1 and ${PARTITIONS_PER_TOPIC_MAX}, got ${partitions}`,
      );
    }
    const configProblem = topicConfigProblem(configs, this.parts.config.properties);
    if (configProblem) return fail(ErrorCode.INVALID_CONFIG, configProblem);
    let logConfig;
    try {
      logConfig = logConfigFor(configs, this.parts.config.properties);
    } catch (error) {
      return fail(ErrorCode.INVALID_CONFIG, (error as Error).message);
    }
    const sizeProblem = topicSizeLimitProblem(
      name,
      configs,
      logConfig,
      this.parts.config.properties,
      this.parts.logger,
    );
    if (sizeProblem) return fail(ErrorCode.INVALID_CONFIG, sizeProblem);
    if (validateOnly) return OK;
    let topic: Topic;
    try {
      topic = await this.parts.topics.create(name, partitions, configs, topicId);
    } catch (error) {
      return diskFailure(error); // topics.json could not be written
    }
    try {
      await this.parts.partitions.open(name, topic.id, 0, partitions, logConfig);
    } catch (error) {
      // None of its partitions opened (a directory there holds another topic's data; the disk failed).
      if (this.parts.topics.get(name) === topic) {
        try {
          await this.parts.topics.delete(name);
          await this.deletionFinished(topic);
        } catch (undoError) {
          this.parts.logger.error(
            { topic: name, error: String(undoError) },
            'topic not removed after its failed creation',
          );
        }
      }
      this.parts.logger.error({ topic: name, error: String(error) }, 'topic not created: its partitions did not open');
      return diskFailure(error);
    }
    // The broker's own topics are announced by the service that creates them.
    this.parts.logger[isInternalTopic(name) ? 'debug' : 'info'](
      { topic: name, partitions, topicId: topic.id.toString('base64url'), configs },
      'topic created',
    );
    return { ...OK, topic };
  }

  /** The topic for a Metadata request, creating it when allowed. */
  async topicForMetadata(name: string, allowAutoCreate: boolean): Promise<Failure & { topic?: Topic }> {
    // A change of the topic called earlier (a DeleteTopics just before) is seen: wait for it.
    if (this.changes.busy(name)) await this.changes.run(name, async () => undefined);
    const existing = this.parts.topics.get(name);
    if (existing) return { ...OK, topic: existing };
    const nameProblem = topicNameProblem(name);
    if (nameProblem) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
    if (!allowAutoCreate || !this.parts.config.autoCreateTopics || isInternalTopic(name)) {
      return UNKNOWN_PARTITION;
    }
    const created = await this.createTopic(name, this.parts.config.numPartitions, {});
    if (created.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) return { ...OK, topic: this.parts.topics.get(name)! };
    return created;
  }

  /**
   * Deletes a topic. It is gone once topics.json says so; its partition directories are renamed
   * `-delete` (durably) before this resolves, so the topic can be created again at once with empty
   * logs; their files are removed in the background. The broker's own topics cannot be deleted.
   */
  deleteTopic(name: string): Promise<Failure & { topicId?: Buffer }> {
    return this.changes.run(name, () => this.deleteTopicNow(name));
  }

  private async deleteTopicNow(name: string): Promise<Failure & { topicId?: Buffer }> {
    const topic = this.parts.topics.get(name);
    if (!topic) return UNKNOWN_PARTITION;
    if (isInternalTopic(name))
      return fail(ErrorCode.INVALID_REQUEST, `Deletion of internal topic ${name} is prohibited.`);
    try {
      await this.parts.topics.delete(name);
    } catch (error) {
      return diskFailure(error); // topics.json could not be written: the topic stays
    }
    let failure: Failure = OK;
    try {
      await this.parts.partitions.delete(name);
      await this.deletionFinished(topic);
    } catch (error) {
      // The topic is deleted all the same; the next start renames what is left (topics.json lists it).
      this.parts.logger.error(
        { topic: name, error: String(error) },
        'topic deleted, but its directories were not renamed',
      );
      failure = diskFailure(error);
    }
    await this.parts.topicDeleted(name);
    this.parts.logger.info({ topic: name }, 'topic deleted');
    return { ...failure, topicId: topic.id };
  }

  /** The topic's directories are renamed: topics.json may forget it (if that write fails, the next start does). */
  private async deletionFinished(topic: Topic): Promise<void> {
    try {
      await this.parts.topics.deletionsFinished([topic.id]);
    } catch (error) {
      this.parts.logger.warn({ topic: topic.name, error: String(error) }, 'finished deletion not recorded');
    }
  }

  /** CreatePartitions of one topic run one at a time, each checking the count the one before left. */
  createPartitions(name: string, count: number, validateOnly: boolean): Promise<Failure> {
    return this.changes.run(name, () => this.growPartitions(name, count, validateOnly));
  }

  private async growPartitions(name: string, count: number, validateOnly: boolean): Promise<Failure> {
    const topic = this.parts.topics.get(name);
    if (!topic) return UNKNOWN_PARTITION;
    if (!Number.isInteger(count) || count <= topic.partitions) {
      return fail(
        ErrorCode.INVALID_PARTITIONS,
        `Topic currently has ${topic.partitions} partitions, which is higher than or equal to the requested ${count}.`,
      );
    }
    if (count > PARTITIONS_PER_TOPIC_MAX)
      return fail(ErrorCode.INVALID_PARTITIONS, `at most ${PARTITIONS_PER_TOPIC_MAX} partitions per topic`);
    if (validateOnly) return OK;
    const from = topic.partitions;
    try {
      await this.parts.partitions.open(name, topic.id, from, count, this.logConfigOf(topic));
    } catch (error) {
      this.parts.logger.error({ topic: name, from, to: count, error: String(error) }, 'partitions not added');
      return diskFailure(error);
    }
    try {
      await this.parts.topics.setPartitions(name, count);
    } catch (error) {
      return diskFailure(error); // the new partitions stay open but unlisted; a retry lists them
    }
    this.parts.logger.info({ topic: name, from, to: count }, 'partitions added');
    return OK;
  }

  /** Replaces (AlterConfigs) or edits (IncrementalAlterConfigs) a topic's overrides. */
  alterTopicConfigs(name: string, overrides: Record<string, string>, validateOnly: boolean): Promise<Failure> {
    return this.changes.run(name, () => this.alterTopicConfigsNow(name, overrides, validateOnly));
  }

  private async alterTopicConfigsNow(
    name: string,
    overrides: Record<string, string>,
    validateOnly: boolean,
  ): Promise<Failure> {
    const topic = this.parts.topics.get(name);
    if (!topic) return UNKNOWN_PARTITION;
    const problem = topicConfigProblem(overrides, this.parts.config.properties);
    if (problem) return fail(ErrorCode.INVALID_CONFIG, problem);
    let logConfig;
    try {
      logConfig = logConfigFor(overrides, this.parts.config.properties);
    } catch (error) {
      return fail(ErrorCode.INVALID_CONFIG, (error as Error).message);
    }
    const sizeProblem = topicSizeLimitProblem(
      name,
      overrides,
      logConfig,
      this.parts.config.properties,
      this.parts.logger,
    );
    if (sizeProblem) return fail(ErrorCode.INVALID_CONFIG, sizeProblem);
    if (validateOnly) return OK;
    try {
      await this.parts.topics.setConfigs(name, overrides);
    } catch (error) {
      return diskFailure(error);
    }
    // Applies at once: the logs read their settings (segment size, retention, max message size) when
    // they use them. The flush policy is broker-wide and never changes at run time.
    const updated = this.logConfigOf(topic);
    for (const { log } of this.parts.partitions.partitionsOf(name))
      Object.assign(log.config, { ...updated, flushPolicy: log.config.flushPolicy });
    this.parts.logger.info({ topic: name, configs: overrides }, 'topic configs altered');
    return OK;
  }

  topicConfigs(name: string) {
    const topic = this.parts.topics.get(name);
    return topic ? effectiveTopicConfigs(topic.configs, this.parts.config.properties) : undefined;
  }
}
