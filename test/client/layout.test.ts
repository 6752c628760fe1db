// The client's shape, checked rather than trusted: Producer and Consumer are facades that own their
// collaborators, and a collaborator never imports its facade (it gets callbacks or small objects
// instead), so nothing calls back into the class that called it; and src/client/ has no import
// cycle, type-only imports included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repositoryRoot } from '../../scripts/generate-protocol.js';

/** Each facade and the files that are its parts besides `<facade>-*.ts`. */
const facades: Record<string, readonly string[]> = {
  'producer.ts': ['transaction.ts', 'record-batch-builder.ts', 'partitioners.ts'],
  'consumer.ts': ['dead-letter.ts', 'ordered-executor.ts', 'group.ts', 'assignors.ts', 'dedup.ts'],
};

/** The sibling files a client file imports ('./x.js' → 'x.ts'), type-only imports included. */
function siblingImports(text: string): string[] {
  const found: string[] = [];
  const pattern =
    /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]\.\/([^'"/]+)\.js['"]|import\(\s*['"]\.\/([^'"/]+)\.js['"]\s*\)/gm;
  for (const match of text.matchAll(pattern)) found.push(`${match[1] ?? match[2]}.ts`);
  return found;
}

/** What is wrong with a set of client files (name → text): a part importing its facade, import cycles. */
function layoutProblems(files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const imports = new Map<string, string[]>();
  for (const [name, text] of files) imports.set(name, siblingImports(text));
  for (const [facade, extraParts] of Object.entries(facades)) {
    const prefix = facade.replace(/\.ts$/, '-');
    for (const [name, targets] of imports) {
      if (!name.startsWith(prefix) && !extraParts.includes(name)) continue;
      if (targets.includes(facade)) problems.push(`${name} imports its facade ${facade}`);
    }
  }
  // Depth-first search; a back edge to a file still on the path closes a cycle.
  const onPath = new Set<string>();
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (name: string): void => {
    onPath.add(name);
    path.push(name);
    for (const target of imports.get(name) ?? []) {
      if (!imports.has(target)) continue;
      if (onPath.has(target))
        problems.push(`import cycle: ${[...path.slice(path.indexOf(target)), target].join(' → ')}`);
      else if (!done.has(target)) visit(target);
    }
    path.pop();
    onPath.delete(name);
    done.add(name);
  };
  for (const name of [...imports.keys()].sort()) if (!done.has(name)) visit(name);
  return problems;
}

function clientFiles(): Map<string, string> {
  const dir = join(repositoryRoot, 'src', 'client');
  const files = new Map<string, string>();
  for (const name of readdirSync(dir).sort())
    if (name.endsWith('.ts')) files.set(name, readFileSync(join(dir, name), 'utf8'));
  return files;
}

test('no client collaborator imports its facade, and src/client has no import cycle', () => {
  const files = clientFiles();
  for (const facade of Object.keys(facades)) assert.ok(files.has(facade), `src/client/${facade} exists`);
  assert.ok(
    [...files.keys()].some((name) => name.startsWith('producer-')),
    'the producer has collaborators',
  );
  assert.ok(
    [...files.keys()].some((name) => name.startsWith('consumer-')),
    'the consumer has collaborators',
  );
  assert.deepEqual(layoutProblems(files), []);
});

test('the layout check catches a part importing its facade and a cycle (type imports too)', () => {
  const files = new Map([
    ['producer.ts', "import { Sender } from './producer-sender.js';\n"],
    ['producer-sender.ts', "import type { Producer } from './producer.js';\n"],
    ['consumer.ts', "import { a } from './consumer-a.js';\n"],
    ['consumer-a.ts', "export { b } from './consumer-b.js';\n"],
    ['consumer-b.ts', "import type { A } from './consumer-a.js';\n"],
    ['dead-letter.ts', "import { Producer } from './producer.js';\n"],
  ]);
  assert.deepEqual(layoutProblems(files).sort(), [
    'import cycle: consumer-a.ts → consumer-b.ts → consumer-a.ts',
    'import cycle: producer.ts → producer-sender.ts → producer.ts',
    'producer-sender.ts imports its facade producer.ts',
  ]);
});
