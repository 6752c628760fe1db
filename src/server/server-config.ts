// The server's part of the Kafka-named settings: where to listen, what address to advertise, and the
// listener limits of limits.ts. The CLI and startBroker() gather every setting into one `properties`
// map (Kafka names, string values); the broker reads its part with brokerConfigFrom, the storage
// `log.*` part is read by topic-config.ts, and this module reads the rest.
import { hostname } from 'node:os';
import { ConfigError } from '../broker/config.js';
import { logConfigFor, topicConfigDefinitions } from '../broker/topic-config.js';
import { defaultListenerLimits, REQUEST_BYTES_MIN, type ListenerLimits } from './limits.js';

export { ConfigError } from '../broker/config.js';
export { parseProperties } from '../broker/data-dir.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface ServerConfig {
  /** `listeners`: where to bind, or null when not set (the caller picks its default). */
  listen: HostPort | null;
  /** `advertised.listeners`: what Metadata tells clients, or null to advertise the bound address. */
  advertised: HostPort | null;
  limits: ListenerLimits;
}

/** The Kafka name of each listener limit. `int32` caps the values Kafka itself keeps in an int. */
const limitSettings: ReadonlyArray<{ name: string; field: keyof ListenerLimits; min: number; max: number }> = [
  { name: 'socket.request.max.bytes', field: 'requestBytesMax', min: REQUEST_BYTES_MIN, max: 2 ** 31 - 1 },
  { name: 'max.connections', field: 'connectionsMax', min: 1, max: 2 ** 31 - 1 },
  { name: 'sluice.connection.in.flight.max', field: 'inFlightRequestsMax', min: 1, max: 2 ** 31 - 1 },
  {
    name: 'sluice.connection.output.buffer.max.bytes',
    field: 'outputBufferBytesMax',
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
  },
  {
    name: 'queued.max.request.bytes',
    field: 'queuedRequestBytesMax',
    min: REQUEST_BYTES_MIN,
    max: Number.MAX_SAFE_INTEGER,
  },
  { name: 'connections.max.idle.ms', field: 'idleTimeoutMs', min: 1, max: Number.MAX_SAFE_INTEGER },
];

/** Kafka names this module reads, for documentation and for the CLI's help. */
export const serverSettingNames: readonly string[] = [
  'listeners',
  'advertised.listeners',
  ...limitSettings.map((s) => s.name),
];

/** Reads the listener limits; a setting that is absent keeps the default of limits.ts. */
export function listenerLimitsFrom(properties: Record<string, string>): ListenerLimits {
  const limits: ListenerLimits = { ...defaultListenerLimits };
  for (const { name, field, min, max } of limitSettings) {
    const raw = properties[name];
    if (raw === undefined) continue;
    const trimmed = raw.trim();
    const value = Number(trimmed);
    if (!/^-?\d+$/.test(trimmed) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
    }
    limits[field] = value;
  }
  if (limits.queuedRequestBytesMax < limits.requestBytesMax) {
    throw new ConfigError(
      `queued.max.request.bytes (${limits.queuedRequestBytesMax}) must be at least socket.request.max.bytes ` +
        `(${limits.requestBytesMax}): the broker holds a whole request in memory while it reads it`,
    );
  }
  return limits;
}

/**
 * Parses one listener address as Kafka writes it: `host:port`, `PLAINTEXT://host:port`,
 * `[::1]:9092`, or `:9092` (empty host: every interface). Sluice serves one PLAINTEXT listener, so a
 * list or another security protocol is refused rather than half-honoured.
 */
export function parseListenerAddress(name: string, value: string, options: { allowPortZero: boolean }): HostPort {
  const text = value.trim();
  const problem = (why: string) =>
    new ConfigError(`${name} must look like host:port or PLAINTEXT://host:port (${why}), got "${value}"`);
  if (text.includes(',')) throw new ConfigError(`${name}: Sluice serves a single listener, got the list "${value}"`);
  let address = text;
  const scheme = /^([A-Za-z][A-Za-z0-9_]*):\/\/(.*)$/.exec(text);
  if (scheme) {
    if (scheme[1]!.toUpperCase() !== 'PLAINTEXT') {
      throw new ConfigError(`${name}: Sluice speaks PLAINTEXT only (no TLS or SASL yet), got "${value}"`);
    }
    address = scheme[2]!;
  }
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\]:([^:]*)$/.exec(address);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
  } else {
    const colon = address.lastIndexOf(':');
    if (colon < 0) throw problem('no port');
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (host.includes(':')) throw problem('write an IPv6 address in brackets, [::1]:9092');
  }
  if (!/^\d+$/.test(portText)) throw problem('the port is not a number');
  const port = Number(portText);
  const portMin = options.allowPortZero ? 0 : 1;
  if (port < portMin || port > 65535) throw problem(`the port must be in [${portMin}, 65535]`);
  if (/\s/.test(host)) throw problem('the host contains spaces');
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** Reads and checks the server settings, and checks the broker-wide `log.*` defaults so a bad value
 *  stops the start with a clear message instead of failing later at the first topic. */
export function serverConfigFrom(properties: Record<string, string>): ServerConfig {
  const listeners = properties['listeners'];
  const advertised = properties['advertised.listeners'];
  const dataDirs = properties['log.dirs'] ?? properties['log.dir'];
  if (dataDirs !== undefined && dataDirs.includes(',')) {
    throw new ConfigError(`log.dirs: Sluice uses one data directory, got the list "${dataDirs}"`);
  }
  if (dataDirs !== undefined && dataDirs.trim() === '') throw new ConfigError('log.dirs must not be empty');
  for (const definition of topicConfigDefinitions) {
    const value = properties[definition.brokerName];
    const problem = value === undefined ? null : definition.validate(value);
    if (problem !== null) throw new ConfigError(`${definition.brokerName}: ${problem}`);
  }
  try {
    logConfigFor({}, properties);
  } catch (error) {
    // Storage prefixes its detail with a generic sentence; the operator needs only the detail.
    const { name, message } = error as Error;
    throw new ConfigError(
      name === 'StorageError' && message.includes(': ') ? message.slice(message.indexOf(': ') + 2) : message,
    );
  }
  return {
    listen: listeners === undefined ? null : parseListenerAddress('listeners', listeners, { allowPortZero: true }),
    advertised:
      advertised === undefined
        ? null
        : parseListenerAddress('advertised.listeners', advertised, { allowPortZero: false }),
    limits: listenerLimitsFrom(properties),
  };
}

/** The host clients are told when nothing is advertised: the bound host, except that a wildcard
 *  address means nothing to a client, so it is replaced by this machine's name (what Kafka does). */
export function defaultAdvertisedHost(boundHost: string): string {
  return boundHost === '0.0.0.0' || boundHost === '::' || boundHost === '' ? hostname() : boundHost;
}

/** Formats an address for a bootstrap list; IPv6 literals need brackets. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
