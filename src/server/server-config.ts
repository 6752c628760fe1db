// The server's part of the Kafka-named settings: where to listen, what address to advertise, and the
// listener limits of limits.ts. The CLI and startBroker() gather every setting into one `properties`
// map (Kafka names, string values); every known one is checked against the settings registry here,
// the broker reads its part with brokerConfigFrom, topic defaults are read by topic-config.ts.
import { hostname } from 'node:os';
import { sizeLimitRules, sizeLimitsFor } from '../broker/size-limits.js';
import { logConfigFor } from '../broker/topic-config.js';
import { checkBrokerSettings, ConfigError, readInteger } from '../runtime/settings.js';
import type { ListenerLimits } from './limits.js';

export { ConfigError } from '../runtime/settings.js';
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

/** The setting behind each listener limit. */
const limitSettings: Readonly<Record<keyof ListenerLimits, string>> = {
  requestBytesMax: 'socket.request.max.bytes',
  connectionsMax: 'max.connections',
  inFlightRequestsMax: 'sluice.connection.in.flight.max',
  outputBufferBytesMax: 'sluice.connection.output.buffer.max.bytes',
  queuedRequestBytesMax: 'queued.max.request.bytes',
  requestReceiveTimeoutMs: 'sluice.request.receive.timeout.ms',
  idleTimeoutMs: 'connections.max.idle.ms',
};

const queuedRequestsRule = sizeLimitRules.find((rule) => rule.id === 'request-queue-holds-largest-request')!;

/** Reads the listener limits; a setting that is absent keeps the registry's default. */
export function listenerLimitsFrom(properties: Record<string, string>): ListenerLimits {
  const limits = {} as ListenerLimits;
  for (const [field, name] of Object.entries(limitSettings) as [keyof ListenerLimits, string][]) {
    limits[field] = readInteger(properties, name);
  }
  // The listener's part of the size rules (broker/size-limits.ts): the request budget must hold the
  // largest request.
  const problem = queuedRequestsRule.problem(sizeLimitsFor(properties));
  if (problem !== null) throw new ConfigError(problem);
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

/** Reads and checks the server settings, and checks every setting the registry knows (the topic
 *  defaults too), so a bad value stops the start with a clear message instead of failing later at the
 *  first topic. */
export function serverConfigFrom(properties: Record<string, string>): ServerConfig {
  const listeners = properties['listeners'];
  const advertised = properties['advertised.listeners'];
  const dataDirs = properties['log.dirs'] ?? properties['log.dir'];
  if (dataDirs !== undefined && dataDirs.includes(',')) {
    throw new ConfigError(`log.dirs: Sluice uses one data directory, got the list "${dataDirs}"`);
  }
  if (dataDirs !== undefined && dataDirs.trim() === '') throw new ConfigError('log.dirs must not be empty');
  checkBrokerSettings(properties);
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
