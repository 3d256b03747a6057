import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CORE = dirname(fileURLToPath(import.meta.url));
const SRC = dirname(CORE);
/** What core may import from the rest of src/: only what sits below it. */
const BELOW = ['core', 'errors', 'generated'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Every module a file names: static imports and re-exports (type-only ones too) and dynamic imports. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/\b(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g)) found.push(m[1]!);
  for (const m of text.matchAll(/\bimport\s*(?:\(\s*)?['"]([^'"]+)['"]/g)) found.push(m[1]!);
  return found;
}

/** Where in src/ a relative import of `file` lands, or undefined when it leaves src/ or is a package. */
function layerOf(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = relative(SRC, resolve(dirname(file), specifier));
  return target.startsWith('..') ? `outside src: ${target}` : target.split(/[\\/]/)[0];
}

describe('core layering', () => {
  it('reads imports of every form', () => {
    const text = [
      "import type { Logger } from '../logging.ts';",
      "import {\n  a,\n  b,\n} from '../../store/schema.ts';",
      "export { x } from '../audit/leaf.ts';",
      "export type * from '../metrics.ts';",
      "import '../config/load.ts';",
      "const m = await import('../signing/material.ts');",
    ].join('\n');
    expect(specifiers(text)).toEqual(['../logging.ts', '../../store/schema.ts', '../audit/leaf.ts', '../metrics.ts', '../config/load.ts', '../signing/material.ts']);
  });

  it('src/core imports nothing above it (only core, errors, generated and packages)', () => {
    const files = sources(CORE);
    expect(files.length).toBeGreaterThan(10);
    const upward = files.flatMap((file) =>
      specifiers(readFileSync(file, 'utf8'))
        .map((specifier) => ({ specifier, layer: layerOf(file, specifier) }))
        .filter(({ layer }) => layer !== undefined && !BELOW.includes(layer))
        .map(({ specifier }) => `${relative(SRC, file)} imports ${specifier}`),
    );
    expect(upward).toEqual([]);
  });
});
