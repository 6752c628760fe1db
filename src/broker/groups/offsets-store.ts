// `__consumer_offsets`: the internal topic (internal-topic.ts) that holds committed offsets and group
// metadata (offsets-records.ts). Created on first use (FindCoordinator, a join or a commit) with
// `offsets.topic.num.partitions` partitions.
import { InternalTopicStore, type InternalRecord, type InternalTopicHost } from '../internal-topic.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

export type OffsetsTopicHost = InternalTopicHost;
export type OffsetsRecord = InternalRecord;

export class OffsetsStore extends InternalTopicStore {
  constructor(host: OffsetsTopicHost, partitionsWhenCreated: number) {
    super(host, OFFSETS_TOPIC, partitionsWhenCreated, 'groups');
  }
}
