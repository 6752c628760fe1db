// The API versions this client speaks. A connection uses, per API, the highest version both this
// table and the broker's ApiVersions answer allow. Versions above a cap here change the meaning of a
// request in ways the client does not implement yet (topic ids instead of names in Produce 13,
// Fetch 13+, OffsetCommit/OffsetFetch 10; batched coordinator keys are handled, see cluster.ts).
import { apiCodecs, ApiKey } from '../protocol/generated/index.js';

const caps: ReadonlyMap<number, number> = new Map([
  [ApiKey.Produce, 12],
  [ApiKey.Fetch, 12],
  [ApiKey.OffsetCommit, 9],
  [ApiKey.OffsetFetch, 7],
  [ApiKey.FindCoordinator, 3],
  [ApiKey.ApiVersions, 3],
]);

/** The version range this client can encode and understand for `apiKey`. */
export function clientVersionRange(apiKey: number): { min: number; max: number } | undefined {
  const codec = apiCodecs.get(apiKey);
  if (!codec) return undefined;
  const cap = caps.get(apiKey);
  return {
    min: codec.requestVersions.min,
    max: cap === undefined ? codec.requestVersions.max : Math.min(cap, codec.requestVersions.max),
  };
}
