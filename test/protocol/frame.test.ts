import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  beginRequestFrame,
  beginResponseFrame,
  decodeRequestHeader,
  decodeResponseHeader,
  finishFrame,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../src/protocol/frame.js';
import { ApiKey, apiVersions, heartbeat } from '../../src/protocol/generated/index.js';
import { DecodeError } from '../../src/protocol/errors.js';

test('header versions follow flexibility, and ApiVersions responses always use header v0', () => {
  assert.equal(requestHeaderVersion(ApiKey.Metadata, 8), 1);
  assert.equal(requestHeaderVersion(ApiKey.Metadata, 9), 2);
  assert.equal(responseHeaderVersion(ApiKey.Metadata, 9), 1);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 3), 2);
  assert.equal(
    requestHeaderVersion(ApiKey.ApiVersions, 99),
    2,
    'unknown newer ApiVersions is still parsed as flexible',
  );
  assert.equal(responseHeaderVersion(ApiKey.ApiVersions, 3), 0);
});

test('a flexible request frame round-trips: header v2 keeps client_id a non-compact string', () => {
  const frame = beginRequestFrame(ApiKey.Heartbeat, 4, 77, 'my-client');
  heartbeat.encodeRequest(4, { groupId: 'g', generationId: 3, memberId: 'm-1' }, frame.writer);
  const bytes = Buffer.concat(finishFrame(frame));
  assert.equal(bytes.readInt32BE(0), bytes.length - 4);
  assert.equal(bytes.readInt16BE(12), 'my-client'.length, 'client_id has an INT16 length even in header v2');
  const { header, bodyOffset } = decodeRequestHeader(bytes, 4);
  assert.deepEqual(header, { requestApiKey: 12, requestApiVersion: 4, correlationId: 77, clientId: 'my-client' });
  assert.deepEqual(heartbeat.decodeRequest(4, bytes, bodyOffset), {
    groupId: 'g',
    generationId: 3,
    memberId: 'm-1',
    groupInstanceId: null,
  });
});

test('an ApiVersions v3 response frame has no tagged-field byte in its header', () => {
  const frame = beginResponseFrame(ApiKey.ApiVersions, 3, 5);
  apiVersions.encodeResponse(3, { apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 7 }] }, frame.writer);
  const bytes = Buffer.concat(finishFrame(frame));
  const { header, bodyOffset } = decodeResponseHeader(ApiKey.ApiVersions, 3, bytes, 4);
  assert.equal(header.correlationId, 5);
  assert.equal(bodyOffset, 8);
  assert.equal(apiVersions.decodeResponse(3, bytes, bodyOffset).apiKeys[0]!.maxVersion, 7);
});

test('a truncated request header is a DecodeError', () => {
  assert.throws(() => decodeRequestHeader(Buffer.from([0, 3, 0, 9, 0, 0])), DecodeError);
});
