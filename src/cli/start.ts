// `sluice start`: gathers the settings, starts the broker, and shuts it down cleanly on SIGTERM or
// SIGINT: stop accepting, let in-flight requests finish, flush and checkpoint the logs, exit 0.
// A problem at start (bad setting, data directory in use, port taken) is one log line and exit 1.
import { resolve } from 'node:path';
import { ConfigError, DataDirError, ListenError, startBroker, type StartedBroker } from '../server/start-broker.js';
import { formatHostPort } from '../server/server-config.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { createLogger } from './log.js';
import { gatherSettings, logLevelOf, type StartArguments } from './settings.js';

/** A repeated signal within this time of the first is the same Ctrl-C delivered twice, not a second request. */
const repeatedSignalWindowMs = 1000;

/** Errors whose message says all an operator needs; anything else also gets its stack logged. */
const expectedErrors = [ConfigError, DataDirError, ListenError];

export async function runStart(
  args: StartArguments,
  version: string,
  environment: NodeJS.ProcessEnv = process.env,
  clock: Clock = systemClock,
): Promise<number> {
  const logger = createLogger(logLevelOf(args, environment));
  // Signal handlers go in first: a supervisor may send SIGTERM the moment it sees "listening", or
  // while the broker is still opening; either way the answer is a clean stop, never the default kill.
  let signalled: (signal: NodeJS.Signals) => void = () => {};
  let signalDuringStart: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    signalDuringStart ??= signal;
    signalled(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  let started: StartedBroker;
  try {
    const settings = gatherSettings(args, environment);
    const dataDir = resolve(settings.properties['log.dirs']!);
    settings.properties['log.dirs'] = dataDir;
    // What was set, and from where, so an operator can tell which layer a surprising value came from.
    const given = Object.entries(settings.sources).filter(([, source]) => source !== 'default');
    logger.info(
      {
        version,
        node: process.version,
        ...(settings.configFile !== null ? { configFile: settings.configFile } : {}),
        dataDir,
        ...(given.length > 0
          ? {
              settings: Object.fromEntries(
                given.map(([name, source]) => [name, `${settings.properties[name]} (${source})`]),
              ),
            }
          : {}),
      },
      `sluice ${version} starting`,
    );
    started = await startBroker({ properties: settings.properties, logger });
  } catch (error) {
    const expected = expectedErrors.some((kind) => error instanceof kind);
    logger.error(expected ? {} : { stack: (error as Error).stack }, `cannot start: ${(error as Error).message}`);
    return 1;
  }

  const { broker } = started;
  logger.info(
    {
      host: started.host,
      port: started.port,
      advertised: started.bootstrapServers,
      dataDir: started.dataDir,
      clusterId: broker.identity.clusterId,
      nodeId: broker.identity.nodeId,
    },
    `listening on ${formatHostPort(started)}`,
  );

  return new Promise<number>((resolveExit) => {
    let stoppingSince: number | null = null;
    const stop = (signal: NodeJS.Signals) => {
      if (stoppingSince !== null) {
        // Ctrl-C under `npm start` arrives twice at once: from the terminal to the process group, and
        // forwarded by npm. Only a signal sent deliberately later cuts the shutdown short; the log is
        // consistent after any crash, so that is safe, merely slower to start next time.
        if (clock.now() - stoppingSince < repeatedSignalWindowMs) return;
        logger.warn({ signal }, 'second signal: exiting before shutdown finished');
        resolveExit(1);
        return;
      }
      stoppingSince = clock.now();
      const startedAt = stoppingSince;
      logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
      started.close().then(
        () => {
          logger.info({ durationMs: clock.now() - startedAt }, 'shutdown complete');
          resolveExit(0);
        },
        (error: unknown) => {
          logger.error({ stack: (error as Error).stack }, `shutdown failed: ${(error as Error).message}`);
          resolveExit(1);
        },
      );
    };
    signalled = stop;
    // A signal that came while the broker was starting: stop now that there is something to stop.
    if (signalDuringStart !== null) stop(signalDuringStart);
  });
}
