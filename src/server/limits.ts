// Every limit of the Kafka listener, with why it has that size. Names follow Kafka's where Kafka has
// the same knob (socket.request.max.bytes, connections.max.idle.ms, max.connections); the others are
// Sluice's own and start with `sluice.`. Their defaults and bounds are the settings registry's.
import { integerDefault, settingNamed } from '../runtime/settings.js';

export interface ListenerLimits {
  /** `socket.request.max.bytes`: largest request frame accepted. Kafka's default, 100 MiB: one produce
   *  request may carry many partitions' batches. A larger size prefix closes the connection unread. */
  requestBytesMax: number;
  /** `max.connections`: open client connections; more are closed at accept and logged. Each costs a
   *  socket buffer and a little state, so the bound keeps a connection flood from exhausting memory. */
  connectionsMax: number;
  /** `sluice.connection.in.flight.max`: requests read but not yet answered on one connection. Reading
   *  pauses at the cap (TCP backpressure reaches the client). Clients pipeline 5 by default. */
  inFlightRequestsMax: number;
  /** `sluice.connection.output.buffer.max.bytes`: response bytes queued to a socket the client is not
   *  reading. Above it we stop reading new requests from that client until the socket drains. */
  outputBufferBytesMax: number;
  /** `queued.max.request.bytes`: request bytes all connections together may hold in memory — frames
   *  being read and requests not yet answered (a Produce waiting for its fsync holds its batches).
   *  Kafka's name; Kafka's default is unbounded, ours 512 MiB: with `max.connections` connections each
   *  allowed a 100 MiB frame, nothing else bounds what clients can make the broker hold. A frame is
   *  reserved whole from its size prefix, so the budget never deadlocks; frames still arriving may hold
   *  only half of it, so size prefixes alone cannot lock out requests that have arrived (see
   *  server/kafka/request-memory.ts). Must be at least `socket.request.max.bytes`. */
  queuedRequestBytesMax: number;
  /** `sluice.request.receive.timeout.ms`: how long a request may take to arrive once its size prefix
   *  is read. Bounds how long a client that announces a frame and stops sending holds its memory.
   *  30 s: a client has given up on the request by then (request.timeout.ms defaults to 30 s). */
  requestReceiveTimeoutMs: number;
  /** `connections.max.idle.ms`: a connection with nothing in flight for this long is closed (Kafka: 10 min). */
  idleTimeoutMs: number;
}

export const defaultListenerLimits: Readonly<ListenerLimits> = Object.freeze({
  requestBytesMax: integerDefault('socket.request.max.bytes'),
  connectionsMax: integerDefault('max.connections'),
  inFlightRequestsMax: integerDefault('sluice.connection.in.flight.max'),
  outputBufferBytesMax: integerDefault('sluice.connection.output.buffer.max.bytes'),
  queuedRequestBytesMax: integerDefault('queued.max.request.bytes'),
  requestReceiveTimeoutMs: integerDefault('sluice.request.receive.timeout.ms'),
  idleTimeoutMs: integerDefault('connections.max.idle.ms'),
});

/** The smallest request: api_key, api_version, correlation_id and a null client_id (10 bytes) — the
 *  registry's lower bound of socket.request.max.bytes. */
export const REQUEST_BYTES_MIN = Number(settingNamed('socket.request.max.bytes').min);
