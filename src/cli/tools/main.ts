#!/usr/bin/env node
// Runs one client tool: `node dist/src/cli/tools/main.js <topics|produce|consume|groups|bench> ...`.
// (Until `sluice` itself dispatches these names to runTool, this is their entry point.)
import { processIo, runTool } from './index.js';

const [name, ...rest] = process.argv.slice(2);
process.exitCode =
  name === undefined
    ? (process.stderr.write('usage: tools/main.js <topics|produce|consume|groups|bench> [args]\n'), 2)
    : await runTool(name, rest, processIo());
process.exit();
