// Repository hygiene that a reviewer would otherwise have to check by eye:
// the layer rules of DESIGN.md, generated code that matches its generator, and no reads of ../shared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, dirname, sep } from 'node:path';
import { defaultPaths, generateProtocol, repositoryRoot } from '../scripts/generate-protocol.js';
import {
  clockAndFileSystemUses,
  FILE_LINES_MAX,
  importCycles,
  importPattern,
  LINE_COLUMNS_MAX,
  longFiles,
  longLines,
} from './support/tidy-rules.js';

/** Which layers each layer may import (DESIGN.md, "Layers"). */
const allowedImports: Record<string, readonly string[]> = {
  runtime: [],
  protocol: ['runtime'],
  storage: ['protocol', 'runtime'],
  broker: ['storage', 'protocol', 'runtime'],
  server: ['broker', 'cluster', 'protocol', 'runtime'],
  client: ['protocol', 'runtime'],
  cli: ['server', 'client', 'runtime'],
  cluster: ['broker', 'storage', 'protocol', 'runtime'],
};
/** Node modules that do I/O; `protocol/` is pure and may use none of them. */
const ioModules = [
  'node:fs',
  'node:fs/promises',
  'node:net',
  'node:http',
  'node:https',
  'node:child_process',
  'node:dgram',
  'node:worker_threads',
  'fs',
  'net',
  'http',
  'child_process',
];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(importPattern)) found.push((match[1] ?? match[2] ?? match[3])!);
  return found;
}

const srcRoot = join(repositoryRoot, 'src');

/** The layer problems of the files under `root` (a parameter, so a test can feed it a bad tree). */
function layerViolations(root: string): string[] {
  const problems: string[] = [];
  for (const file of sourceFiles(root)) {
    const layer = relative(root, file).split(sep)[0]!;
    if (!(layer in allowedImports)) continue; // src/index.ts, the package entry, may re-export any layer
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        const targetLayer = relative(root, target).split(sep)[0]!;
        if (targetLayer !== layer && !allowedImports[layer]!.includes(targetLayer)) {
          problems.push(
            `${relative(repositoryRoot, file)} imports ${specifier}: ${layer}/ may not import ${targetLayer}/`,
          );
        }
      } else if (layer === 'protocol' && ioModules.includes(specifier)) {
        problems.push(`${relative(repositoryRoot, file)} imports ${specifier}: protocol/ is pure and does no I/O`);
      }
    }
  }
  return problems;
}

test('layers import only what DESIGN.md allows', () => {
  assert.deepEqual(layerViolations(srcRoot), []);
});

test('the layer check catches a forbidden import', () => {
  const root = mkdtempSync(join(tmpdir(), 'sluice-tidy-'));
  try {
    const storage = join(root, 'storage');
    const server = join(root, 'server');
    for (const dir of [storage, server]) mkdirSync(dir, { recursive: true });
    writeFileSync(join(server, 'listener.ts'), 'export const x = 1;\n');
    writeFileSync(join(storage, 'log.ts'), "import { x } from '../server/listener.js';\nexport const y = x;\n");
    assert.deepEqual(layerViolations(root).length, 1);
    assert.match(layerViolations(root)[0]!, /storage\/ may not import server\//);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** The broker's services (DESIGN.md: they "get narrow interfaces, never the whole broker"). */
const serviceFolders = ['groups', 'transactions', 'half-messages'];
/** The broker and its wiring: what a service must not reach past its interfaces for. */
const brokerWiring = ['broker.ts', 'service-adapters.ts', 'partition-set.ts'];
/** What services share: the interfaces (services.ts) and the internal-topic store; neither may lead into a service. */
const sharedServiceModules = ['services.ts', 'internal-topic.ts'];

/**
 * The rule, in one sentence: a file in a service folder of src/broker/ imports no file of another
 * service folder and none of the broker's wiring (`brokerWiring`), and the modules they share
 * (`sharedServiceModules`) import no service folder. (`brokerRoot` is a parameter so a test can feed
 * it a bad tree.)
 */
function serviceViolations(brokerRoot: string): string[] {
  const problems: string[] = [];
  const folderOf = (path: string): string | null => {
    const first = relative(brokerRoot, path).split(sep)[0]!;
    return serviceFolders.includes(first) && relative(brokerRoot, path).includes(sep) ? first : null;
  };
  for (const file of sourceFiles(brokerRoot)) {
    const folder = folderOf(file);
    const shared = sharedServiceModules.includes(relative(brokerRoot, file));
    if (folder === null && !shared) continue;
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
      const targetFolder = folderOf(target);
      const name = relative(repositoryRoot, file);
      if (shared && targetFolder !== null)
        problems.push(`${name} imports ${specifier}: the shared interfaces may not import a service`);
      else if (folder !== null && targetFolder !== null && targetFolder !== folder)
        problems.push(`${name} imports ${specifier}: ${folder}/ may not import another service (${targetFolder}/)`);
      else if (folder !== null && brokerWiring.includes(relative(brokerRoot, target)))
        problems.push(`${name} imports ${specifier}: a service gets interfaces (services.ts), not the broker`);
    }
  }
  return problems;
}

test('services import neither the broker nor each other, only the interfaces of services.ts', () => {
  assert.deepEqual(serviceViolations(join(srcRoot, 'broker')), []);
});

test('the service check catches a service importing the broker, another service, or a shared module a service', () => {
  const root = mkdtempSync(join(tmpdir(), 'sluice-tidy-services-'));
  try {
    for (const dir of ['groups', 'transactions', 'half-messages']) mkdirSync(join(root, dir));
    writeFileSync(join(root, 'broker.ts'), 'export const broker = 1;\n');
    writeFileSync(join(root, 'logger.ts'), 'export const logger = 1;\n');
    writeFileSync(
      join(root, 'groups', 'coordinator.ts'),
      "import { logger } from '../logger.js';\nexport const g = logger;\n",
    );
    writeFileSync(join(root, 'services.ts'), "import type { g } from './groups/coordinator.js';\n");
    writeFileSync(
      join(root, 'transactions', 'coordinator.ts'),
      "import { g } from '../groups/coordinator.js';\nimport { broker } from '../broker.js';\n" +
        "import { x } from './table.js';\n",
    );
    writeFileSync(join(root, 'half-messages', 'service.ts'), "import type { b } from '../broker.js';\n");
    const problems = serviceViolations(root);
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.match(problems.join('\n'), /transactions\/ may not import another service \(groups\/\)/);
    assert.match(problems.join('\n'), /half-messages.*a service gets interfaces/);
    assert.match(problems.join('\n'), /services\.ts .*the shared interfaces may not import a service/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('generated codecs match what the generator makes from the schemas', () => {
  const paths = defaultPaths();
  const expected = generateProtocol(paths.schemaDir, readFileSync(paths.errorCodes, 'utf8'));
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-generated-'));
  try {
    for (const [name, text] of expected) writeFileSync(join(scratch, name), text);
    const committed = readdirSync(paths.outputDir).sort();
    assert.deepEqual(committed, [...expected.keys()].sort(), 'generated file list is stale: run `npm run generate`');
    for (const name of committed) {
      const actual = readFileSync(join(paths.outputDir, name), 'utf8');
      assert.ok(
        actual === readFileSync(join(scratch, name), 'utf8'),
        `src/protocol/generated/${name} is stale: run \`npm run generate\``,
      );
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('nothing in the project reads ../shared at build, test or run time', () => {
  const offenders: string[] = [];
  for (const dir of ['src', 'scripts', 'test', 'bench']) {
    let files: string[] = [];
    try {
      files = sourceFiles(join(repositoryRoot, dir));
    } catch {
      continue;
    }
    for (const file of files) {
      if (file.endsWith('tidy.test.ts')) continue;
      if (/['"`][^'"`]*\.\.\/shared\b/.test(readFileSync(file, 'utf8'))) offenders.push(relative(repositoryRoot, file));
    }
  }
  for (const file of ['package.json', '.ci/run', 'tsconfig.json']) {
    if (readFileSync(join(repositoryRoot, file), 'utf8').includes('../shared')) offenders.push(file);
  }
  assert.deepEqual(offenders, []);
});

// ── shape rules (test/support/tidy-rules.ts) ────────────────────────────────────────────────

function scratchTree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'sluice-tidy-shape-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test('the shape rules catch a cycle, a long file, a long line, and the clock or file system in the wrong place', () => {
  const root = scratchTree({
    'broker/a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
    'broker/b.ts': "import { c } from './c.js';\nexport type B = number;\nexport const b = c;\n",
    'broker/c.ts': "import type { A } from './a.js';\nexport const c: A | 1 = 1;\n",
    'broker/self.ts': "import { self } from './self.js';\nexport const self = 1;\n",
    'broker/long.ts': 'export const x = 1;\n'.repeat(FILE_LINES_MAX + 1),
    'broker/wide.ts': `export const wide = '${'w'.repeat(LINE_COLUMNS_MAX)}';\n`,
    'broker/generated/huge.ts': `export const g = '${'g'.repeat(LINE_COLUMNS_MAX)}';\n`.repeat(FILE_LINES_MAX + 1),
    'broker/time.ts': 'export const t = Date.now();\n',
    'broker/files.ts': "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n",
    'runtime/clock.ts': 'export const now = () => Date.now();\n',
    'storage/log.ts': "import { open } from 'node:fs/promises';\nexport const o = open;\nDate.now();\n",
  });
  try {
    assert.deepEqual(importCycles(root), [`broker/a.ts <-> broker/b.ts <-> broker/c.ts`, 'broker/self.ts']);
    assert.deepEqual(longFiles(root), [`broker/long.ts: ${FILE_LINES_MAX + 1} lines`]);
    assert.deepEqual(longLines(root), [`broker/wide.ts:1: ${LINE_COLUMNS_MAX + 23} columns`]);
    assert.deepEqual(clockAndFileSystemUses(root).sort(), [
      'broker/files.ts: imports node:fs',
      'broker/time.ts: Date.now()',
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

for (const tree of ['src', 'test', 'bench', 'scripts']) {
  test(`${tree}/: no import cycle, no file over ${FILE_LINES_MAX} lines, no line over ${LINE_COLUMNS_MAX} cols`, () => {
    const root = join(repositoryRoot, tree);
    assert.deepEqual(importCycles(root), []);
    assert.deepEqual(longFiles(root), []);
    assert.deepEqual(
      longLines(root),
      [],
      `lines over ${LINE_COLUMNS_MAX} columns (npm run format, then rewrap by hand)`,
    );
  });
}

test('Date.now() only in the Clock and storage; node:fs only in storage (and the config-file reader)', () => {
  assert.deepEqual(clockAndFileSystemUses(join(repositoryRoot, 'src')), []);
});
