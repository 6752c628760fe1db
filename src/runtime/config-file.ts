// Reading the files a command is configured by, before anything runs: `sluice start --config FILE`
// and the package manifest the version comes from. Read-only and synchronous on purpose — nothing is
// served yet, and the settings must be complete before the broker opens. Every file the broker
// *writes* goes through storage (storage/durable-files.ts); this is the one other place that touches
// the file system, and it never writes.
import { readFileSync } from 'node:fs';

/** The text (UTF-8) of a configuration file; throws the operating system's error (ENOENT, EACCES …). */
export function readConfigFile(path: string): string {
  return readFileSync(path, 'utf8');
}
