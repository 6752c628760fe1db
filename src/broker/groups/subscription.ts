// Reads the topic list out of a consumer-protocol subscription (JoinGroup metadata of groups with
// protocol type "consumer"): int16 version, then ConsumerProtocolSubscription. Newer versions only
// append fields, so a version above the schema's is read as the newest known one and trailing bytes
// are ignored, as Kafka's ConsumerProtocol does.
import { ByteReader } from '../../protocol/primitives/byte-reader.js';
import { readConsumerProtocolSubscription } from '../../protocol/generated/consumer-protocol-subscription.js';

const NEWEST_KNOWN_VERSION = 3;

/** The subscribed topics, or null when the metadata is not a readable subscription. */
export function decodeSubscribedTopics(metadata: Buffer): string[] | null {
  try {
    const r = new ByteReader(metadata, 0, metadata.length, 'ConsumerProtocolSubscription');
    const version = r.int16('version');
    if (version < 0) return null;
    return readConsumerProtocolSubscription(r, Math.min(version, NEWEST_KNOWN_VERSION), false).topics;
  } catch {
    return null;
  }
}
