// The router holds, per API, the handler, its versions, its codec and its error response. These tests
// check the error responses of every API and version the broker serves: each encodes, decodes back,
// and carries UNKNOWN_SERVER_ERROR wherever the client looks for an error code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Broker } from '../../../src/broker/broker.js';
import { ApiKey, ErrorCode } from '../../../src/protocol/generated/index.js';
import { ByteWriter } from '../../../src/protocol/primitives/byte-writer.js';
import { kafkaHandlers } from '../../../src/server/handlers/index.js';
import type { KafkaHandler } from '../../../src/server/handlers/handler.js';
import { errorResponseBuilders } from '../../../src/server/kafka/error-responses.js';
import { RequestRouter } from '../../../src/server/kafka/router.js';
import { filledRequest } from '../../support/filled-message.js';

// The handler factories only capture the broker; nothing here calls a handler.
const router = new RequestRouter(kafkaHandlers({} as Broker));

function bytesOf(writer: ByteWriter): Buffer {
  return Buffer.concat(writer.chunks());
}

/** Every value of the error-code fields of a decoded response, at any depth. */
function errorCodes(value: unknown, found: number[] = []): number[] {
  if (Array.isArray(value)) for (const item of value) errorCodes(item, found);
  else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const [name, field] of Object.entries(value)) {
      if (/errorCode$/i.test(name) && typeof field === 'number') found.push(field);
      else errorCodes(field, found);
    }
  }
  return found;
}

test('every API and version the broker serves has an error response that encodes with UNKNOWN_SERVER_ERROR', () => {
  let checked = 0;
  for (const { apiKey } of router.advertised()) {
    const route = router.route(apiKey)!;
    for (let version = route.versions.min; version <= route.versions.max; version++) {
      const where = `${route.name} v${version}`;
      const encoded = bytesOf(route.codec.encodeRequest(version, filledRequest(apiKey, version)));
      const request = route.codec.decodeRequest(version, encoded);
      const body = route.errorResponse(request, ErrorCode.UNKNOWN_SERVER_ERROR, { apiVersion: version, message: 'm' });
      assert.ok(body !== null, `${where}: an error response`);
      const response = route.codec.decodeResponse(version, bytesOf(route.codec.encodeResponse(version, body)));
      const codes = errorCodes(response);
      assert.ok(codes.length > 0, `${where}: the response carries an error code`);
      assert.ok(
        codes.every((code) => code === ErrorCode.UNKNOWN_SERVER_ERROR || code === ErrorCode.NONE),
        `${where}: error codes ${codes.join(', ')}`,
      );
      assert.ok(codes.includes(ErrorCode.UNKNOWN_SERVER_ERROR), `${where}: UNKNOWN_SERVER_ERROR is reported`);
      checked++;
    }
  }
  assert.ok(checked > 100, `checked ${checked} API versions`);
});

test('a per-partition error response names every topic and partition of the request', () => {
  const route = router.route(ApiKey.Produce)!;
  const request = {
    acks: -1,
    topicData: [
      { name: 'a', partitionData: [{ index: 0 }, { index: 3 }] },
      { name: 'b', partitionData: [{ index: 1 }] },
    ],
  };
  const body = route.errorResponse(request, ErrorCode.UNKNOWN_SERVER_ERROR, { apiVersion: 7, message: 'm' });
  const decoded = route.codec.decodeResponse(7, bytesOf(route.codec.encodeResponse(7, body)));
  assert.deepEqual(
    decoded.responses.map((t: any) => [t.name, t.partitionResponses.map((p: any) => [p.index, p.errorCode])]),
    [
      [
        'a',
        [
          [0, -1],
          [3, -1],
        ],
      ],
      ['b', [[1, -1]]],
    ],
  );
});

test('Produce with acks=0 has no error response: the connection is closed instead', () => {
  const route = router.route(ApiKey.Produce)!;
  assert.equal(route.errorResponse({ acks: 0, topicData: [] }, -1, { apiVersion: 7, message: 'm' }), null);
});

test('the router refuses a handler without codec, without error response, or with versions its schema lacks', () => {
  const handler = (apiKey: number, max = 1): KafkaHandler => ({
    apiKey,
    name: `api ${apiKey}`,
    versions: { min: 0, max },
    handle: () => null,
  });
  assert.throws(() => new RequestRouter([handler(9999)]), /out of range/);
  assert.throws(() => new RequestRouter([handler(900)]), /no generated codec/);
  assert.throws(() => new RequestRouter([handler(ApiKey.Heartbeat)], new Map()), /no error response/);
  assert.throws(() => new RequestRouter([handler(ApiKey.Heartbeat, 99)]), /schema has/);
  assert.throws(() => new RequestRouter([handler(ApiKey.Heartbeat), handler(ApiKey.Heartbeat)]), /two handlers/);
  assert.ok(errorResponseBuilders.size >= router.advertised().length);
});

test('ApiVersions is derived from the handler table', () => {
  const advertised = router.advertised();
  assert.deepEqual(
    advertised.map((api) => api.apiKey),
    [...advertised.map((api) => api.apiKey)].sort((a, b) => a - b),
  );
  assert.ok(advertised.some((api) => api.apiKey === ApiKey.ApiVersions));
  for (const api of advertised) assert.ok(router.route(api.apiKey), `route for ${api.apiKey}`);
});
