import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { BUNDLE_LIMITS, BundleError, readBundle, readBundleArchive } from './bundle.ts';
import { TarError, readTar, tarBuffer, tarStream, type TarLimits } from './tar.ts';

const long = `bundle/${'d'.repeat(90)}/${'f'.repeat(80)}.txt`;
const files: [string, Buffer][] = [
  ['bundle/README.md', Buffer.from('# hello\n')],
  ['bundle/empty.txt', Buffer.alloc(0)],
  ['bundle/exactly-512.bin', Buffer.alloc(512, 7)],
  ['bundle/Tiếng Việt.txt', Buffer.from('chữ ký số\n')],
  [long, Buffer.from('long name\n')],
];
const roomy: TarLimits = { decompressedBytes: 1 << 30, compressionRatio: 100, members: 100, memberBytes: 1 << 20, totalBytes: 1 << 24 };
const dir = mkdtempSync(join(tmpdir(), 'lienthong-tar-'));

/** An archive with any member tar can describe, hostile ones included, written by tar-stream. */
async function crafted(members: { header: Partial<Header> & { name: string }; content?: Buffer }[]): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  const reading = (async () => {
    for await (const chunk of archive) chunks.push(chunk as Buffer);
  })();
  for (const { header, content } of members) {
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (content) archive.entry(header, content, done);
      else archive.entry(header, done);
    });
  }
  archive.finalize();
  await reading;
  return Buffer.concat(chunks);
}

/** The header block alone of a member declaring `size` bytes (the content never comes). */
async function headerOnly(name: string, size: number): Promise<Buffer> {
  const archive = pack();
  archive.entry({ name, size, type: 'file' });
  for await (const chunk of archive) {
    archive.destroy();
    return (chunk as Buffer).subarray(0, 512);
  }
  throw new Error('no header');
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('accepted');
    },
    (err: unknown) => err as Error,
  );

describe('the tar writer and reader', () => {
  it('round-trips files, empty and block-sized ones, UTF-8 and long names, gzipped or not', async () => {
    const archive = await tarBuffer(files);
    expect(archive.length % 512).toBe(0);
    expect([...(await readTar(archive, roomy))]).toEqual(files);
    expect([...(await readTar(gzipSync(archive), roomy))]).toEqual(files);
  });

  it('writes archives GNU tar extracts, and reads what GNU tar packs (pax, gnu, ustar, ./ names, gzip)', async () => {
    writeFileSync(join(dir, 'ours.tar'), await tarBuffer(files));
    mkdirSync(join(dir, 'out'));
    execFileSync('tar', ['-xf', join(dir, 'ours.tar'), '-C', join(dir, 'out')]);
    for (const [name, content] of files) expect(readFileSync(join(dir, 'out', name))).toEqual(content);
    for (const format of ['pax', 'gnu']) {
      execFileSync('tar', ['-cf', join(dir, `${format}.tar`), `--format=${format}`, '-C', join(dir, 'out'), 'bundle']);
      const read = await readTar(readFileSync(join(dir, `${format}.tar`)), roomy);
      for (const [name, content] of files) expect(read.get(name), `${format}: ${name}`).toEqual(content);
    }
    execFileSync('tar', ['-czf', join(dir, 'dot.tar.gz'), '-C', join(dir, 'out', 'bundle'), '.']);
    const dot = await readTar(readFileSync(join(dir, 'dot.tar.gz')), roomy);
    expect(dot.get('README.md')).toEqual(files[0]![1]);
    expect(dot.size).toBe(files.length);
  });

  it('streams: a slow reader holds the writer back, and one that stops closes the source', async () => {
    let produced = 0;
    let closed = false;
    const chunk = Buffer.alloc(64 * 1024, 1);
    async function* content() {
      try {
        for (let i = 0; i < 256; i++) {
          produced++;
          yield chunk;
        }
      } finally {
        closed = true;
      }
    }
    const stream = tarStream([{ name: 'big.bin', size: 256 * chunk.length, content }]);
    await stream.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // 16 MiB to write, a few chunks taken: the rest waits for the reader.
    expect(produced).toBeLessThan(8);
    await stream.return(undefined);
    expect(closed).toBe(true);
  });

  it('refuses content that disagrees with its declared size, and fails with a failing source', async () => {
    const consume = async (stream: AsyncGenerator<Buffer>) => {
      for await (const chunk of stream) void chunk;
    };
    await expect(consume(tarStream([{ name: 'x', size: 3, content: Buffer.from('four') }]))).rejects.toThrow(/has 4 bytes, declared 3/);
    const streamed = (size: number, content: () => AsyncGenerator<Buffer>) => consume(tarStream([{ name: 'x', size, content }]));
    await expect(
      streamed(3, async function* () {
        yield Buffer.from('four');
      }),
    ).rejects.toThrow(/longer than its declared 3 bytes/);
    await expect(
      streamed(10, async function* () {
        yield Buffer.from('abc');
        throw new Error('the database went away');
      }),
    ).rejects.toThrow(/the database went away/);
  });
});

describe('limits on archives handed in', () => {
  it('refuses a gzip bomb after a few of its bytes, without taking memory', async () => {
    // 2 GiB of zeros in 2 MB: 32 gzip members of 64 MiB each.
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const bomb = join(dir, 'bomb.tar.gz');
    writeFileSync(bomb, Buffer.concat(Array.from({ length: 32 }, () => member)));
    expect(readFileSync(bomb).length).toBeLessThan(2.5e6);
    const rss = process.memoryUsage().rss;
    const started = Date.now();
    const err = await refusal(readBundle(bomb));
    expect(err).toBeInstanceOf(BundleError);
    expect(err.message).toMatch(/unpacks to more than 100 times its compressed size/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
    // The absolute bound holds whatever the ratio: 1.5 GB of zeros at 100:1 is still too much.
    const err2 = await refusal(readTar(gzipSync(Buffer.alloc(4 * 1024 * 1024)), { ...roomy, decompressedBytes: 2 * 1024 * 1024, compressionRatio: 1e9 }));
    expect(err2.message).toMatch(/unpacks to more than 2097152 bytes/);
  });

  it('refuses more members than allowed', async () => {
    const many = Array.from({ length: BUNDLE_LIMITS.members + 1 }, (_, i): [string, Buffer] => [`bundle/checkpoints/${i}.txt`, Buffer.from(`${i}\n`)]);
    const err = await refusal(readBundleArchive(gzipSync(await tarBuffer(many))));
    expect(err).toBeInstanceOf(BundleError);
    expect(err.message).toBe(`bundle: the archive holds more than ${BUNDLE_LIMITS.members} members`);
    await expect(readBundleArchive(gzipSync(await tarBuffer(many.slice(1))))).resolves.toHaveProperty('size', BUNDLE_LIMITS.members);
  });

  it('refuses a member larger than allowed from its header, before reading it, and too much in total', async () => {
    // A header declaring 500 MB, and nothing after it: refused for its size, not as truncated.
    const err = await refusal(readBundleArchive(gzipSync(await headerOnly('bundle/entries.jsonl', 500_000_000))));
    expect(err.message).toBe(`bundle: member bundle/entries.jsonl is 500000000 bytes, more than the ${BUNDLE_LIMITS.memberBytes} a member may hold`);
    const two = await tarBuffer([
      ['a', Buffer.alloc(600)],
      ['b', Buffer.alloc(600)],
    ]);
    expect((await refusal(readTar(two, { ...roomy, memberBytes: 500 }))).message).toMatch(/member a is 600 bytes, more than the 500/);
    expect((await refusal(readTar(two, { ...roomy, totalBytes: 1000 }))).message).toMatch(/members hold more than 1000 bytes/);
  });

  it('refuses absolute names and names climbing out with ..', async () => {
    for (const name of ['/etc/cron.d/evil', '../evil', 'bundle/../../evil', 'bundle/./../..', 'C:/evil', 'bundle\\..\\evil']) {
      const err = await refusal(readBundleArchive(await crafted([{ header: { name, type: 'file' }, content: Buffer.from('x') }])));
      expect(err, name).toBeInstanceOf(BundleError);
      expect(err.message, name).toMatch(/absolute or non-portable path|climbs out of the archive/);
    }
  });

  it('refuses symbolic links, hard links and devices', async () => {
    const cases: [Partial<Header> & { name: string }, RegExp][] = [
      [{ name: 'bundle/manifest.json', type: 'symlink', linkname: '/etc/passwd' }, /manifest.json is a symbolic link to "\/etc\/passwd"/],
      [{ name: 'bundle/entries.jsonl', type: 'link', linkname: 'bundle/README.md' }, /entries.jsonl is a hard link to "bundle\/README.md"/],
      [{ name: 'bundle/dev', type: 'character-device' }, /dev is of type character-device/],
      [{ name: 'bundle/pipe', type: 'fifo' }, /pipe is of type fifo/],
    ];
    for (const [header, message] of cases) {
      const err = await refusal(readBundleArchive(await crafted([{ header: { name: 'bundle/README.md', type: 'file' }, content: Buffer.from('#\n') }, { header }])));
      expect(err.message, header.name).toMatch(message);
    }
  });

  it('refuses a name that appears twice, however spelt', async () => {
    const twice = await tarBuffer([files[0]!, files[0]!]);
    expect((await refusal(readBundleArchive(twice))).message).toBe('bundle: bundle/README.md appears twice in the archive');
    const spelt = await tarBuffer([
      ['bundle/manifest.json', Buffer.from('{}')],
      ['./bundle//manifest.json', Buffer.from('{"forged":true}')],
    ]);
    expect((await refusal(readBundleArchive(spelt))).message).toMatch(/bundle\/manifest.json appears twice/);
  });

  it('refuses truncated and corrupted archives', async () => {
    const archive = await tarBuffer(files);
    // Cut inside a member, at a member boundary (no end-of-archive marker), and inside the gzip stream.
    expect((await refusal(readTar(archive.subarray(0, 1024 + 100), roomy))).message).toMatch(/truncated/);
    expect((await refusal(readTar(archive.subarray(0, archive.length - 1024), roomy))).message).toMatch(/without its end-of-archive marker/);
    const gz = gzipSync(archive);
    expect((await refusal(readTar(gz.subarray(0, gz.length - 20), roomy))).message).toBe('the archive is truncated');
    const damaged = Buffer.from(gz);
    damaged[gz.length - 6] = damaged[gz.length - 6]! ^ 0xff; // the CRC-32 of the gzip trailer
    expect((await refusal(readTar(damaged, roomy))).message).toMatch(/^not a readable gzip file: incorrect data check/);
    const corrupted = Buffer.from(archive);
    corrupted[3] = corrupted[3]! ^ 1;
    const err = await refusal(readTar(corrupted, roomy));
    expect(err).toBeInstanceOf(TarError);
    expect(err.message).toMatch(/not a readable tar archive/);
    expect((await refusal(readTar(Buffer.from('not an archive at all'), roomy))).message).toMatch(/truncated|not a readable tar archive/);
  });
});
