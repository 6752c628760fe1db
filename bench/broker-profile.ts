// "Where the time goes": a second broker started under `node --cpu-prof`, kcat producing the 100-byte
// message file of the throughput runs once more and consuming it back, and the broker's self time
// per function and per area during each, from the .cpuprofile it writes when it stops.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { consumerArgs, producerArgs } from './broker-throughput.js';
import { fixed, printProfile, thousands } from './broker-report.js';
import { KCAT_TIMEOUT_MS } from './broker-scale.js';
import { profileBounds, readCpuProfile, summarizeProfile } from './cpu-profile.js';
import { runKcat, startBrokerProcess } from './processes.js';
import { WireClient } from './wire-client.js';

const PROFILE_INTERVAL_US = 500;
const PROFILE_TOP = 15;

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Profiles a broker in `workDir` while kcat produces `messageFile` (`messages` lines) and consumes it. */
export async function profileRun(workDir: string, messageFile: string, messages: number): Promise<void> {
  const profileDir = join(workDir, 'profile');
  const profileDataDir = join(workDir, 'profile-data');
  const broker = await startBrokerProcess(profileDataDir, [
    '--cpu-prof',
    '--cpu-prof-dir',
    profileDir,
    `--cpu-prof-interval=${PROFILE_INTERVAL_US}`,
  ]);
  let produceFromUs: number;
  let produceToUs: number;
  let consumeToUs: number;
  let produced: { seconds: number };
  let consumed: { seconds: number };
  try {
    const admin = await WireClient.connect(broker.host, broker.port);
    await admin.createTopic('bench-profile', 1);
    admin.close();
    produceFromUs = Number(process.hrtime.bigint() / 1000n);
    produced = await runKcat(producerArgs(broker.bootstrap, 'bench-profile', messageFile, 1), KCAT_TIMEOUT_MS);
    produceToUs = Number(process.hrtime.bigint() / 1000n);
    consumed = await runKcat(consumerArgs(broker.bootstrap, 'bench-profile', messages), KCAT_TIMEOUT_MS);
    consumeToUs = Number(process.hrtime.bigint() / 1000n);
  } finally {
    // The profile is written when the broker stops.
    await broker.stop();
  }
  const profiles = readdirSync(profileDir).filter((name) => name.endsWith('.cpuprofile'));
  if (profiles.length !== 1) throw new Error(`expected one .cpuprofile in ${profileDir}, found ${profiles.length}`);
  const profile = readCpuProfile(join(profileDir, profiles[0]!));
  const bounds = profileBounds(profile);
  const windowsFit = produceFromUs >= bounds.startUs && consumeToUs <= bounds.endUs;
  console.log(
    `\nwhere the time goes: a second broker under node --cpu-prof (sampled every ${PROFILE_INTERVAL_US} µs), ` +
      'kcat produce then consume',
  );
  console.log(
    `  ${thousands(messages)} x 100 B on 1 partition: produce ${fixed(produced.seconds, 2)} s ` +
      `(${thousands(messages / produced.seconds)} msg/s under the profiler), consume ${fixed(consumed.seconds, 2)} s`,
  );
  console.log(
    '  caveats: main thread only (fdatasync and writes run on the libuv pool); ' +
      'samples are wall-clock, so a native call',
  );
  console.log(
    '  also collects time the thread sat preempted on this 2-core machine; the profiler itself adds GC (compare the',
  );
  console.log('  --trace-gc figures in the throughput rows above)');
  if (windowsFit) {
    printProfile(
      'top self time during the produce run',
      summarizeProfile(profile, repositoryRoot, PROFILE_TOP, produceFromUs, produceToUs),
    );
    printProfile(
      'top self time during the consume run',
      summarizeProfile(profile, repositoryRoot, 10, produceToUs, consumeToUs),
    );
  } else {
    console.log('  (the profile clock does not line up with process.hrtime here; showing the whole profile)');
    printProfile('top self time, whole broker run', summarizeProfile(profile, repositoryRoot, PROFILE_TOP));
  }
}
