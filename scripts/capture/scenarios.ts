// The capture scenarios of scripts/capture-fixtures.ts — which client runs with which arguments, and
// which API keys it must have sent before its scenario ends — and how one is run: every client in
// its own process group with a time limit, killed at the end of its scenario. Errors and time-outs
// after the interesting requests are expected.
import { spawn, type ChildProcess } from 'node:child_process';
import { ApiKey } from '../../src/protocol/generated/index.js';
import type { CaptureBroker, CaptureTarget } from './capture-broker.js';
import {
  CAPTURE_GROUP,
  CAPTURE_TOPIC,
  compressible,
  HOST,
  KAFKAJS_CLIENT_ID,
  KCAT_CLIENT_ID,
  PLATFORMATIC_CLIENT_ID,
} from './names.js';

const SCENARIO_TIMEOUT_MS = 20_000;
/** After the awaited requests arrived, how long the client may go on before it is killed. */
const SCENARIO_GRACE_MS = 500;

export interface Scenario extends CaptureTarget {
  name: string;
  /** The scenario ends once every one of these API keys has been captured (or the client exits). */
  awaitApiKeys: number[];
  command: string;
  args: string[];
  stdin?: string;
}

/**
 * Every scenario, against the broker on `port`. The Node.js clients run in a child process of
 * `driverScript` (`<driverScript> --drive <scenario> <port>`) so that they can be killed cleanly.
 */
export function scenarios(port: number, driverScript: string): Scenario[] {
  const driver = (name: string): { command: string; args: string[] } => ({
    command: process.execPath,
    args: [...process.execArgv, driverScript, '--drive', name, String(port)],
  });
  const broker = `${HOST}:${port}`;
  const list: Scenario[] = [];
  const kcat = (name: string, args: string[], awaitApiKeys: number[], extra: Partial<Scenario> = {}): void => {
    list.push({
      name,
      client: 'kcat',
      clientId: KCAT_CLIENT_ID,
      awaitApiKeys,
      command: 'kcat',
      args: ['-b', broker, '-X', 'socket.timeout.ms=3000', ...args],
      ...extra,
    });
  };
  const node = (
    name: string,
    client: string,
    clientId: string,
    awaitApiKeys: number[],
    extra: Partial<Scenario> = {},
  ): void => {
    list.push({ name, client, clientId, awaitApiKeys, ...driver(name), ...extra });
  };

  for (const codec of ['none', 'gzip']) {
    node(`kafkajs-produce-${codec}`, 'kafkajs', KAFKAJS_CLIENT_ID, [ApiKey.Produce], {
      labels: { [ApiKey.Produce]: codec },
    });
  }
  node('kafkajs-create-topics', 'kafkajs', KAFKAJS_CLIENT_ID, [ApiKey.CreateTopics]);
  node('kafkajs-consume', 'kafkajs', KAFKAJS_CLIENT_ID, [ApiKey.JoinGroup, ApiKey.SyncGroup, ApiKey.Fetch]);

  kcat('kcat-metadata', ['-L'], [ApiKey.Metadata]);
  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    kcat(
      `kcat-produce-${codec}`,
      ['-P', '-t', CAPTURE_TOPIC, '-p', '0', '-z', codec, '-X', 'linger.ms=50'],
      [ApiKey.Produce],
      {
        labels: { [ApiKey.Produce]: codec },
        stdin: compressible.join('\n') + '\n',
      },
    );
  }
  kcat(
    'kcat-consume',
    ['-C', '-t', CAPTURE_TOPIC, '-p', '0', '-o', 'beginning', '-e'],
    [ApiKey.ListOffsets, ApiKey.Fetch],
  );
  kcat('kcat-group', ['-G', CAPTURE_GROUP, CAPTURE_TOPIC], [ApiKey.JoinGroup, ApiKey.SyncGroup, ApiKey.Fetch]);

  for (const codec of ['none', 'gzip', 'snappy', 'lz4']) {
    node(`platformatic-produce-${codec}`, 'platformatic', PLATFORMATIC_CLIENT_ID, [ApiKey.Produce], {
      labels: { [ApiKey.Produce]: codec },
    });
  }
  node('platformatic-create-topics', 'platformatic', PLATFORMATIC_CLIENT_ID, [ApiKey.CreateTopics]);
  node('platformatic-consume', 'platformatic', PLATFORMATIC_CLIENT_ID, [
    ApiKey.JoinGroup,
    ApiKey.SyncGroup,
    ApiKey.Fetch,
  ]);
  return list;
}

/** Runs one scenario's client against `brokerState` until it is done, exits or times out. */
export function runScenario(brokerState: CaptureBroker, scenario: Scenario): Promise<void> {
  return new Promise((resolve) => {
    brokerState.scenario = scenario;
    brokerState.seen = new Set();
    const how = scenario.command === 'kcat' ? 'kcat ' + scenario.args.join(' ') : 'driver ' + scenario.name;
    console.log(`- ${scenario.name}: ${how}`);
    const child: ChildProcess = spawn(scenario.command, scenario.args, {
      detached: true,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(scenario.stdin ?? '');
    let finished = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const finish = (why: string): void => {
      if (finished) return;
      finished = true;
      clearTimeout(limit);
      clearTimeout(graceTimer);
      brokerState.onCapture = () => undefined;
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      const missing = scenario.awaitApiKeys.filter((key) => !brokerState.seen.has(key));
      if (missing.length > 0) {
        console.log(`  ! ${why}; never saw API keys ${missing.join(', ')}`);
        if (stderr.trim()) console.log('  ' + stderr.trim().split('\n').slice(-5).join('\n  '));
      }
      brokerState.scenario = undefined;
      brokerState.dropConnections();
      setTimeout(resolve, 100);
    };
    const limit = setTimeout(() => finish('timed out'), SCENARIO_TIMEOUT_MS);
    brokerState.onCapture = () => {
      if (graceTimer === undefined && scenario.awaitApiKeys.every((key) => brokerState.seen.has(key))) {
        graceTimer = setTimeout(() => finish('done'), SCENARIO_GRACE_MS);
      }
    };
    child.on('error', (error) => finish(`could not start: ${error.message}`));
    child.on('exit', () => setTimeout(() => finish('client exited'), 200));
  });
}
