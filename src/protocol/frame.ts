// Kafka framing and headers.
//
//   frame            = size:INT32 message            (size counts the bytes after itself)
//   request message  = request header, request body
//   request header   v1: api_key INT16, api_version INT16, correlation_id INT32, client_id NULLABLE_STRING
//                    v2: v1 + tagged fields            (client_id stays a non-compact string)
//   response message = response header, response body
//   response header  v0: correlation_id INT32;  v1: v0 + tagged fields
//
// A request uses header v2 exactly when its API version is flexible, and its response header v1 —
// except ApiVersions, whose response header is always v0 so that a client can read it before it
// knows which versions the broker speaks (KIP-511).
import { ByteReader } from './primitives/byte-reader.js';
import { ByteWriter } from './primitives/byte-writer.js';
import { apiCodecs, ApiKey } from './generated/index.js';
import { readRequestHeader, writeRequestHeader, type RequestHeader } from './generated/request-header.js';
import { readResponseHeader, writeResponseHeader, type ResponseHeader } from './generated/response-header.js';

export const FRAME_SIZE_BYTES = 4;
/** api_key, api_version and correlation_id: the part of a request header every version shares. */
export const REQUEST_HEADER_FIXED_BYTES = 8;

/**
 * Whether a request of this API and version is flexible. An ApiVersions request newer than we know is
 * still read as flexible (every version from 3 on is), so its header can be parsed and answered.
 */
export function isFlexibleRequest(apiKey: number, apiVersion: number): boolean {
  if (apiKey === ApiKey.ApiVersions) return apiVersion >= 3;
  const codec = apiCodecs.get(apiKey);
  return codec !== undefined && codec.isFlexibleRequest(apiVersion);
}

export function requestHeaderVersion(apiKey: number, apiVersion: number): 1 | 2 {
  return isFlexibleRequest(apiKey, apiVersion) ? 2 : 1;
}

export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {
  if (apiKey === ApiKey.ApiVersions) return 0;
  return isFlexibleRequest(apiKey, apiVersion) ? 1 : 0;
}

export interface DecodedRequestHeader {
  header: RequestHeader;
  /** Where the request body starts in the buffer. */
  bodyOffset: number;
}

/** Reads the request header of a message occupying `buffer[offset, end)`. Throws DecodeError on bad bytes. */
export function decodeRequestHeader(buffer: Buffer, offset = 0, end = buffer.length): DecodedRequestHeader {
  const peek = new ByteReader(buffer, offset, end, 'RequestHeader', 1);
  const apiKey = peek.int16('requestApiKey');
  const apiVersion = peek.int16('requestApiVersion');
  const version = requestHeaderVersion(apiKey, apiVersion);
  const r = new ByteReader(buffer, offset, end, 'RequestHeader', version);
  const header = readRequestHeader(r, version, version >= 2);
  return { header, bodyOffset: r.offset };
}

/** Starts a request frame: size placeholder and header. Finish it with `finishFrame` after writing the body. */
export function beginRequestFrame(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  w = new ByteWriter(),
): FrameWriter {
  const size = w.reserveInt32();
  const start = w.length;
  const version = requestHeaderVersion(apiKey, apiVersion);
  writeRequestHeader(w, version, version >= 2, {
    requestApiKey: apiKey,
    requestApiVersion: apiVersion,
    correlationId,
    clientId,
  });
  return { writer: w, size, start };
}

/** Starts a response frame: size placeholder and header. */
export function beginResponseFrame(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  w = new ByteWriter(),
): FrameWriter {
  const size = w.reserveInt32();
  const start = w.length;
  const version = responseHeaderVersion(apiKey, apiVersion);
  writeResponseHeader(w, version, version >= 1, { correlationId });
  return { writer: w, size, start };
}

export interface FrameWriter {
  writer: ByteWriter;
  size: { chunk: Buffer; position: number };
  start: number;
}

/** Fills in the size prefix; returns the frame as chunks ready for `socket.write`/`writev`. */
export function finishFrame(frame: FrameWriter): Buffer[] {
  frame.writer.patchInt32(frame.size, frame.writer.length - frame.start);
  return frame.writer.chunks();
}

/** Reads the response header of a message (for clients). */
export function decodeResponseHeader(
  apiKey: number,
  apiVersion: number,
  buffer: Buffer,
  offset = 0,
  end = buffer.length,
): { header: ResponseHeader; bodyOffset: number } {
  const version = responseHeaderVersion(apiKey, apiVersion);
  const r = new ByteReader(buffer, offset, end, 'ResponseHeader', version);
  const header = readResponseHeader(r, version, version >= 1);
  return { header, bodyOffset: r.offset };
}
