import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TarError, readTar, tarBuffer, tarStream } from './tar.ts';

const long = `bundle/${'d'.repeat(90)}/${'f'.repeat(80)}.txt`;
const files: [string, Buffer][] = [
  ['bundle/README.md', Buffer.from('# hello\n')],
  ['bundle/empty.txt', Buffer.alloc(0)],
  ['bundle/exactly-512.bin', Buffer.alloc(512, 7)],
  ['bundle/Tiếng Việt.txt', Buffer.from('chữ ký số\n')],
  [long, Buffer.from('long name\n')],
];

describe('the ustar writer and reader', () => {
  it('round-trips files, empty and block-sized ones, UTF-8 and long names', async () => {
    const archive = await tarBuffer(files);
    expect(archive.length % 512).toBe(0);
    expect([...readTar(archive)]).toEqual(files);
  });

  it('writes archives GNU tar extracts, and reads what GNU tar packs (pax, long names)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-tar-'));
    writeFileSync(join(dir, 'ours.tar'), await tarBuffer(files));
    mkdirSync(join(dir, 'out'));
    execFileSync('tar', ['-xf', join(dir, 'ours.tar'), '-C', join(dir, 'out')]);
    for (const [name, content] of files) expect(readFileSync(join(dir, 'out', name))).toEqual(content);
    for (const format of ['pax', 'gnu']) {
      execFileSync('tar', ['-cf', join(dir, `${format}.tar`), `--format=${format}`, '-C', join(dir, 'out'), 'bundle']);
      const read = readTar(readFileSync(join(dir, `${format}.tar`)));
      for (const [name, content] of files) expect(read.get(name), `${format}: ${name}`).toEqual(content);
    }
  });

  it('refuses corrupted headers, truncation, duplicates and wrong sizes', async () => {
    const archive = await tarBuffer(files);
    const corrupted = Buffer.from(archive);
    corrupted[3] = corrupted[3]! ^ 1;
    expect(() => readTar(corrupted)).toThrow(/corrupted tar header/);
    expect(() => readTar(archive.subarray(0, 1024 + 100))).toThrow(TarError);
    expect(() => readTar(archive.subarray(0, archive.length - 1024))).toThrow(/truncated/);
    const twice = await tarBuffer([files[0]!, files[0]!]);
    expect(() => readTar(twice)).toThrow(/appears twice/);
    const lying = async () => {
      for await (const chunk of tarStream([{ name: 'x', size: 3, content: Buffer.from('four') }])) void chunk;
    };
    await expect(lying()).rejects.toThrow(/longer than its declared/);
  });
});
