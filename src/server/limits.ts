// Every limit of the Kafka listener, with why it has that size. Names follow Kafka's where Kafka has
// the same knob (socket.request.max.bytes, connections.max.idle.ms, max.connections); the others are
// Sluice's own and start with `sluice.`.

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
   *  reserved whole from its size prefix, so the budget never deadlocks; a frame larger than it is
   *  still read when nothing else is held. Must be at least `socket.request.max.bytes`. */
  queuedRequestBytesMax: number;
  /** `connections.max.idle.ms`: a connection with nothing in flight for this long is closed (Kafka: 10 min). */
  idleTimeoutMs: number;
}

export const defaultListenerLimits: Readonly<ListenerLimits> = Object.freeze({
  requestBytesMax: 100 * 1024 * 1024,
  connectionsMax: 4096,
  inFlightRequestsMax: 64,
  outputBufferBytesMax: 16 * 1024 * 1024,
  queuedRequestBytesMax: 512 * 1024 * 1024,
  idleTimeoutMs: 10 * 60 * 1000,
});

/** The smallest request: api_key, api_version, correlation_id and a null client_id. */
export const REQUEST_BYTES_MIN = 10;
