// Emits the types of one message: per struct, an output interface (every field present; what decode
// returns), an input interface (every field optional; absent fields take the schema default) and a
// `create<Struct>()` that builds the all-defaults value.
import type { Emitter } from './emitter.js';
import type { Message } from './schema-model.js';
import { defaultExpression, tsType } from './typescript-values.js';

export function emitTypes(out: Emitter, message: Message): void {
  for (const struct of message.structs) {
    out.line(`export interface ${struct.typeName} {`);
    for (const f of struct.fields) {
      const versions = `${f.versions.min}${f.versions.max === Infinity ? '+' : `-${f.versions.max}`}`;
      out.line(`  /** ${f.about.replace(/\*\//g, '* /')} (versions ${versions}) */`);
      out.line(`  ${f.property}: ${tsType(f, false)};`);
    }
    out.line('}');
    out.line();
    out.line(`export interface ${struct.typeName}Input {`);
    for (const f of struct.fields) out.line(`  ${f.property}?: ${tsType(f, true)};`);
    out.line('}');
    out.line();
    out.line(`export function create${struct.typeName}(): ${struct.typeName} {`);
    out.line('  return {');
    for (const f of struct.fields) out.line(`    ${f.property}: ${defaultExpression(f)},`);
    out.line('  };');
    out.line('}');
    out.line();
  }
}
