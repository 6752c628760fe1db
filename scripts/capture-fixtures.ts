// Captures real Kafka client requests as byte fixtures in test/fixtures/captures/.
//
//   npx tsx scripts/capture-fixtures.ts                   run every scenario (needs kcat on PATH)
//   npx tsx scripts/capture-fixtures.ts kcat-produce-lz4  run only the named scenarios
//
// A loopback listener on 127.0.0.1 (random port) plays a one-node broker just well enough for each
// client to get through its first requests: ApiVersions with the ranges of docs/api-versions.md
// Table B, Metadata naming itself as the only broker and leader, Produce with offsets, empty
// Fetches, FindCoordinator pointing at itself, a one-member group. It saves the first request frame
// (size prefix included) of each client/API/version as
//   test/fixtures/captures/<client>-<api>-v<version>[-<label>].bin
// Every client runs in its own process group with a time limit and is killed at the end of its
// scenario; errors and time-outs after the interesting requests are expected.
//
// The responses are built with our generated codecs, so this script doubles as a smoke test of
// the encoders against three independent client implementations.
//
// This file is the command (and, with `--drive`, the child process a Node.js client runs in); the
// parts are in capture/: names.ts (what the fixtures and the tests agree on), capture-broker.ts
// (the listener that saves frames), pretend-responses.ts (its answers), scenarios.ts (which client
// runs how, and running one), drive-clients.ts (the kafkajs and @platformatic/kafka drivers).
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureBroker } from './capture/capture-broker.js';
import { drive } from './capture/drive-clients.js';
import { capturesDir, HOST } from './capture/names.js';
import { runScenario, scenarios } from './capture/scenarios.js';

export {
  CAPTURE_GROUP,
  CAPTURE_TOPIC,
  capturesDir,
  CREATED_TOPIC,
  fixtureName,
  KAFKAJS_CLIENT_ID,
  KCAT_CLIENT_ID,
  kebab,
  PLATFORMATIC_CLIENT_ID,
} from './capture/names.js';

const thisFile = fileURLToPath(import.meta.url);

async function main(only: string[]): Promise<void> {
  mkdirSync(capturesDir, { recursive: true });
  const broker = new CaptureBroker();
  await broker.start();
  console.log(`capture broker on ${HOST}:${broker.port}`);
  const selected = scenarios(broker.port, thisFile).filter((s) => only.length === 0 || only.includes(s.name));
  if (only.length === 0) {
    // A full run starts from scratch so every file comes from this run.
    for (const name of readdirSync(capturesDir)) if (name.endsWith('.bin')) rmSync(join(capturesDir, name));
  }
  for (const scenario of selected) await runScenario(broker, scenario);
  await broker.stop();
  console.log(`saved ${broker.saved.length} fixtures in ${capturesDir}`);
}

if (process.argv[1] && thisFile.replace(/\.(ts|js)$/, '') === resolve(process.argv[1]).replace(/\.(ts|js)$/, '')) {
  const args = process.argv.slice(2);
  if (args[0] === '--drive') {
    drive(args[1]!, Number(args[2])).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error instanceof Error ? error.stack : String(error));
        process.exit(1);
      },
    );
  } else {
    main(args).catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  }
}
