#!/usr/bin/env node
// The `sluice` command. Exit codes: 0 done, 1 could not start (or shutdown failed), 2 bad command line.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfigFile } from '../runtime/config-file.js';
import { startHelp, usage } from './help.js';
import { parseStartArguments, UsageError } from './settings.js';
import { runStart } from './start.js';
import { runCluster } from './cluster.js';
import { runClusterStatus } from './tools/cluster-status.js';
import { processIo, runGuarded, runTool, toolNames } from './tools/index.js';

/** The package version, from the nearest package.json above this file (src/cli or dist/src/cli). */
function packageVersion(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    try {
      const manifest = JSON.parse(readConfigFile(join(directory, 'package.json'))) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'sluice' && manifest.version) return manifest.version;
    } catch {
      // not here; look one level up
    }
    directory = dirname(directory);
  }
  return 'unknown';
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const version = packageVersion();
  if (command === '--version' || command === '-v') {
    console.log(version);
    return 0;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(usage);
    return 0;
  }
  if (command !== undefined && toolNames.includes(command)) return runTool(command, rest, processIo());
  if (command === 'cluster' && rest[0] === 'status')
    return runGuarded('cluster status', runClusterStatus, rest.slice(1), processIo());
  if (command === 'cluster') return runCluster(rest);
  if (command !== 'start') {
    console.error(
      command === undefined
        ? usage
        : `sluice: unknown command "${command}" (commands: start, cluster, ${toolNames.join(', ')}; see sluice --help)`,
    );
    return 2;
  }
  let args;
  try {
    args = parseStartArguments(rest);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`sluice start: ${error.message} (see sluice start --help)`);
    return 2;
  }
  if (args.help) {
    console.log(startHelp);
    return 0;
  }
  if (args.version) {
    console.log(version);
    return 0;
  }
  try {
    return await runStart(args, version);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`sluice start: ${error.message} (see sluice start --help)`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
// Timers of a closed broker or a half-open socket must not keep a stopped process alive.
process.exit();
