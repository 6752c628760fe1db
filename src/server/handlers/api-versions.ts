// ApiVersions (key 18): which APIs and versions this broker serves. Derived from the handler table,
// never written by hand. Any version is accepted: one newer than we know is answered by the
// connection in the v0 format with UNSUPPORTED_VERSION (KIP-511), see connection.ts.
import { ApiKey } from '../../protocol/generated/index.js';
import type { ApiVersionsRequest, ApiVersionsResponseInput } from '../../protocol/generated/api-versions.js';
import type { KafkaHandler } from './handler.js';

const UNSUPPORTED_VERSION = 35;

export function advertisedApiKeys(
  handlers: readonly KafkaHandler[],
): Array<{ apiKey: number; minVersion: number; maxVersion: number }> {
  return [...handlers]
    .sort((a, b) => a.apiKey - b.apiKey)
    .map((h) => ({
      apiKey: h.apiKey,
      minVersion: (h.advertised ?? h.versions).min,
      maxVersion: (h.advertised ?? h.versions).max,
    }));
}

export function apiVersionsHandler(
  handlers: () => readonly KafkaHandler[],
): KafkaHandler<ApiVersionsRequest, ApiVersionsResponseInput> {
  return {
    apiKey: ApiKey.ApiVersions,
    name: 'ApiVersions',
    versions: { min: 0, max: 4 },
    handle() {
      return { errorCode: 0, apiKeys: advertisedApiKeys(handlers()), throttleTimeMs: 0 };
    },
  };
}

/** The v0 body sent when a client asks for an ApiVersions version newer than ours. */
export function unsupportedApiVersionsBody(handlers: readonly KafkaHandler[]): ApiVersionsResponseInput {
  return { errorCode: UNSUPPORTED_VERSION, apiKeys: advertisedApiKeys(handlers) };
}
