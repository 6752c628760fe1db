// What the capture scripts and test/protocol/captures.test.ts agree on: the address the pretend
// broker listens on, the topic, group and client ids the clients use, the messages they produce,
// and how a captured request's fixture file is named.
import { join } from 'node:path';
import { apiCodecs } from '../../src/protocol/generated/index.js';
import { kebab } from '../codec-generator/schema-model.js';
import { repositoryRoot } from '../repository-root.js';

export { kebab };

export const HOST = '127.0.0.1';
export const CAPTURE_TOPIC = 'sluice-capture';
export const CREATED_TOPIC = 'sluice-capture-created';
export const CAPTURE_GROUP = 'sluice-capture-group';
export const KAFKAJS_CLIENT_ID = 'sluice-capture-kafkajs';
export const PLATFORMATIC_CLIENT_ID = 'sluice-capture-platformatic';
/** librdkafka's default client.id, which kcat does not change. */
export const KCAT_CLIENT_ID = 'rdkafka';

export const capturesDir = join(repositoryRoot, 'test', 'fixtures', 'captures');

/** The 20 values every producer sends: four repeating lines, so every codec has something to compress. */
export const compressible = Array.from(
  { length: 20 },
  (_, i) => `sluice capture message ${i % 4}: the quick brown fox jumps over the lazy dog`,
);

/** The fixture file name for one request. */
export function fixtureName(client: string, apiKey: number, apiVersion: number, label?: string): string {
  const apiName = apiCodecs.get(apiKey)?.apiName ?? `api${apiKey}`;
  return `${client}-${kebab(apiName)}-v${apiVersion}${label ? `-${label}` : ''}.bin`;
}
