import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sandboxWitnessStateDir } from './witness.ts';

describe('the sandbox witness state directory', () => {
  it('sits beside the SQLite file, in a temporary directory otherwise', () => {
    expect(sandboxWitnessStateDir({ database: { sqlitePath: './data/lienthong.db' } })).toBe(join('data', 'witness'));
    const memory = sandboxWitnessStateDir({ database: { sqlitePath: ':memory:' } });
    expect(memory.startsWith(join(tmpdir(), 'lienthong-witness-'))).toBe(true);
    rmSync(memory, { recursive: true, force: true });
    expect(sandboxWitnessStateDir({ database: { url: 'postgres://db/x', schema: 'inst_a', sqlitePath: './data/lienthong.db' } })).toBe(join(tmpdir(), 'lienthong-witness', 'inst_a'));
  });
});
