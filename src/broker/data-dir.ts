// What a broker keeps in its data directory besides partition logs:
//   meta.properties   cluster.id and node.id, written once (Kafka's file of the same name)
//   .lock             the pid of the broker using the directory; a second broker refuses to start
//   topics.json       topic ids, partition counts and config overrides (atomically replaced)
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  createFileExclusively,
  makeDirectory,
  makeTempDirectory,
  readTextIfExists,
  removeDirectory,
  removeFile,
  writeFileDurably,
} from '../storage/durable-files.js';

export class DataDirError extends Error {
  override readonly name = 'DataDirError';
}

function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('!')) continue;
    const at = trimmed.search(/[=:]/);
    if (at < 0) continue;
    out[trimmed.slice(0, at).trim()] = trimmed.slice(at + 1).trim();
  }
  return out;
}

/** Kafka's cluster id format: a random UUID as 22 characters of URL-safe base64. */
export function newClusterId(): string {
  return randomBytes(16).toString('base64url');
}

export interface BrokerIdentity {
  clusterId: string;
  nodeId: number;
}

/** Reads meta.properties, creating it on first start. A node id that differs from the stored one is refused. */
export async function loadIdentity(dataDir: string, nodeId: number): Promise<BrokerIdentity> {
  await makeDirectory(dataDir);
  const text = await readTextIfExists(join(dataDir, 'meta.properties'));
  if (text === null) {
    const identity = { clusterId: newClusterId(), nodeId };
    await writeFileDurably(
      join(dataDir, 'meta.properties'),
      `# written by sluice on first start; do not edit\n` +
        `version=1\ncluster.id=${identity.clusterId}\nnode.id=${nodeId}\n`,
    );
    return identity;
  }
  const properties = parseProperties(text);
  const clusterId = properties['cluster.id'];
  const storedNode = Number(properties['node.id']);
  if (!clusterId || !Number.isInteger(storedNode))
    throw new DataDirError(`${join(dataDir, 'meta.properties')} lacks cluster.id or node.id`);
  if (storedNode !== nodeId) {
    throw new DataDirError(
      `data directory ${dataDir} belongs to node.id=${storedNode}, but this broker is node.id=${nodeId}`,
    );
  }
  return { clusterId, nodeId };
}

/** Takes the data directory's lock. A lock held by a live process is refused with a clear message. */
const lockedInThisProcess = new Set<string>();

export async function lockDataDir(dataDir: string): Promise<{ release(): Promise<void> }> {
  await makeDirectory(dataDir);
  const path = join(dataDir, '.lock');
  if (lockedInThisProcess.has(path))
    throw new DataDirError(`data directory ${dataDir} is in use by another broker in this process`);
  // Claimed before the first await below, so a second open in this process is refused, not raced.
  lockedInThisProcess.add(path);
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await createFileExclusively(path, `${process.pid}\n`)) {
        let released = false;
        return {
          async release() {
            if (released) return;
            released = true;
            try {
              await removeFile(path);
            } catch {
              // the next start takes a stale lock over
            } finally {
              lockedInThisProcess.delete(path);
            }
          },
        };
      }
      const holder = Number(((await readTextIfExists(path)) ?? '').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new DataDirError(
          `data directory ${dataDir} is in use by another broker (pid ${holder}); stop it or choose another --data-dir`,
        );
      }
      // A lock left by a process that no longer runs (kill -9): take it over.
      await removeFile(path);
    }
    throw new DataDirError(`could not lock data directory ${dataDir}`);
  } catch (error) {
    lockedInThisProcess.delete(path);
    throw error;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export { parseProperties };

/** A new, empty data directory under `parent` (the OS temp directory for a throw-away broker). */
export function makeTemporaryDataDir(parent: string): Promise<string> {
  return makeTempDirectory(join(parent, 'sluice-'));
}

/** Removes a throw-away data directory with everything in it. */
export function removeDataDir(dataDir: string): Promise<void> {
  return removeDirectory(dataDir);
}
