// The client tools of the `sluice` command: topics, produce, consume, groups, bench. Each returns an exit
// code: 0 done, 1 failed (unreachable broker, unknown topic, a refused request), 2 bad command line.
// Errors are one line on stderr ("sluice <tool>: <message>"); --verbose adds the stack trace.
import { SluiceClientError } from '../../client/errors.js';
import { ToolUsageError } from './args.js';
import type { ToolIo } from './io.js';
import { runBench } from './bench.js';
import { runConsume } from './consume.js';
import { runGroups } from './groups.js';
import { runProduce } from './produce.js';
import { runTopics } from './topics.js';

export { processIo, type ToolIo } from './io.js';

const tools: Record<string, (argv: readonly string[], io: ToolIo) => Promise<number>> = {
  topics: runTopics,
  produce: runProduce,
  consume: runConsume,
  groups: runGroups,
  bench: runBench,
};

export const toolNames: readonly string[] = Object.keys(tools);

export async function runTool(name: string, argv: readonly string[], io: ToolIo): Promise<number> {
  const tool = tools[name];
  if (!tool) {
    io.err(`sluice: unknown command "${name}" (commands: start, ${toolNames.join(', ')})\n`);
    return 2;
  }
  return runGuarded(name, tool, argv, io);
}

/** Runs a tool with the exit codes and one-line errors above (`name` is how the errors name it). */
export async function runGuarded(
  name: string,
  tool: (argv: readonly string[], io: ToolIo) => Promise<number>,
  argv: readonly string[],
  io: ToolIo,
): Promise<number> {
  try {
    return await tool(argv, io);
  } catch (error) {
    const verbose = argv.includes('--verbose');
    if (error instanceof ToolUsageError) {
      io.err(`sluice ${name}: ${error.message} (see sluice ${name} --help)\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.err(`sluice ${name}: ${message}\n`);
    if (verbose && error instanceof Error && error.stack) io.err(error.stack + '\n');
    if (!(error instanceof SluiceClientError) && !verbose)
      io.err('(an unexpected error: run with --verbose for details)\n');
    return 1;
  }
}
