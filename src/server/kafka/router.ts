// The request router: for each Kafka API the broker serves, the handler, the versions it serves and
// advertises, the generated codec that reads its requests and writes its responses, and how to build
// its error response. Built once per listener from the handler table; the connection asks it for a
// route per request (an array lookup by API key). ApiVersions is derived from the table, never
// written by hand, so adding a handler is all it takes to advertise an API.
import { apiCodecs, ApiKey, type ApiCodec } from '../../protocol/generated/index.js';
import { advertisedApiKeys, apiVersionsHandler, unsupportedApiVersionsBody } from '../handlers/api-versions.js';
import type { KafkaHandler, VersionRange } from '../handlers/handler.js';
import { errorResponseBuilders, type ErrorResponseBuilder } from './error-responses.js';

export interface Route {
  readonly apiKey: number;
  readonly name: string;
  /** Versions the handler decodes and answers. */
  readonly versions: VersionRange;
  readonly codec: ApiCodec;
  readonly handler: KafkaHandler;
  readonly errorResponse: ErrorResponseBuilder;
}

/** API keys are INT16; every key Kafka defines is far below this. */
const API_KEY_SLOTS = 1024;

export class RequestRouter {
  private readonly routes: Array<Route | undefined> = new Array(API_KEY_SLOTS);
  private readonly handlers: KafkaHandler[];

  constructor(
    handlers: readonly KafkaHandler[],
    builders: ReadonlyMap<number, ErrorResponseBuilder> = errorResponseBuilders,
  ) {
    this.handlers = [...handlers];
    if (!this.handlers.some((handler) => handler.apiKey === ApiKey.ApiVersions)) {
      this.handlers.push(apiVersionsHandler(() => this.handlers));
    }
    for (const handler of this.handlers) {
      const { apiKey, name, versions } = handler;
      if (apiKey < 0 || apiKey >= API_KEY_SLOTS) throw new Error(`${name}: API key ${apiKey} out of range`);
      if (this.routes[apiKey] !== undefined) throw new Error(`two handlers for API key ${apiKey}`);
      const codec = apiCodecs.get(apiKey);
      if (codec === undefined) throw new Error(`${name}: no generated codec for API key ${apiKey}`);
      const { min, max } = codec.requestVersions;
      if (versions.min < min || versions.max > max || versions.min > versions.max) {
        throw new Error(`${name}: serves versions ${versions.min}-${versions.max}, its schema has ${min}-${max}`);
      }
      const errorResponse = builders.get(apiKey);
      if (errorResponse === undefined) throw new Error(`${name}: no error response for API key ${apiKey}`);
      this.routes[apiKey] = { apiKey, name, versions, codec, handler, errorResponse };
    }
  }

  route(apiKey: number): Route | undefined {
    return apiKey >= 0 && apiKey < API_KEY_SLOTS ? this.routes[apiKey] : undefined;
  }

  /** What ApiVersions advertises: every route, with the versions its handler advertises. */
  advertised(): Array<{ apiKey: number; minVersion: number; maxVersion: number }> {
    return advertisedApiKeys(this.handlers);
  }

  /** The v0-format body answering an ApiVersions request of a version newer than ours (KIP-511). */
  unsupportedApiVersionsBody(): object {
    return unsupportedApiVersionsBody(this.handlers);
  }
}
