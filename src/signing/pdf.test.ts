import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { PDFDocument } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.ts';
import { appendXrefStream, cairoPdf, editTrailer, encryptedPdf, misplacedXrefPdf, objectStreamBomb, nssDbWithRoot, pdfsig, qpdfLinearized, qpdfObjectStreams, samplePdf, scratch, startTsa, truncatedPdf } from '../../test/helpers/pdf.ts';
import { createDocumentSealer } from './document-sealer.ts';
import { sample } from './material.ts';
import { embedSignature, prepareSignature, readPdf } from './pdf.ts';
import { createTrustStore, loadPemCredentials, readCertificates, withChain } from './trust-store.ts';

const intermediates = readCertificates(sample('issuing-ca.pem'));
const trust = createTrustStore({ roots: readCertificates(sample('root-ca.pem')), intermediates, crls: [readFileSync(sample('issuing-ca.crl.pem'))] });
const credentials = withChain(loadPemCredentials(sample('document-seal.pem'), sample('document-seal.key.pem')), intermediates);
const work = scratch('pdf-structure-test-');
/** For files with several signatures by the seal (see nssDbWithRoot): the root is still the only trust. */
const nssDirKnowingSeal = nssDbWithRoot(sample('root-ca.pem'), work.file('nssdb-known'), [sample('issuing-ca.pem'), sample('document-seal.pem')]);
let counter = 0;
const write = (data: Buffer) => work.file(`file-${++counter}.pdf`, data);

let tsa: Awaited<ReturnType<typeof startTsa>>;
let tsaUrl: string;
beforeAll(async () => {
  tsa = await startTsa(withChain(loadPemCredentials(sample('tsa.pem'), sample('tsa.key.pem')), intermediates));
  tsaUrl = tsa.url;
});
afterAll(async () => {
  await tsa.close();
  work.remove();
});

/** The refusal readPdf answers, or undefined when the file is accepted. */
async function refusal(bytes: Buffer): Promise<GatewayError | undefined> {
  try {
    await readPdf(bytes);
    return undefined;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
}

/** `qpdf --check`: 0 when qpdf finds no syntax or stream error. */
function qpdfCheck(file: string): { status: number | null; output: string } {
  const result = spawnSync('qpdf', ['--check', file], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('readPdf refuses what is not an acceptable PDF', () => {
  const cases: [string, () => Promise<Buffer | string>, RegExp][] = [
    ['an encrypted PDF (qpdf --encrypt)', async () => encryptedPdf(await samplePdf()), /encrypted/],
    ['a truncated upload', async () => truncatedPdf(await samplePdf({ pages: 3 })), /%%EOF|truncated/],
    ['a truncated upload of a cross-reference-stream PDF', async () => truncatedPdf(await samplePdf({ objectStreams: true }), 0.9), /%%EOF|truncated/],
    ['random bytes', async () => randomBytes(4096), /%PDF-/],
    ['a PNG named .pdf', async () => Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), randomBytes(200)]), /%PDF-/],
    ['a header and nothing else', async () => Buffer.from('%PDF-1.7\n%%EOF\n'), /startxref/],
    ['startxref pointing beside the xref table', async () => misplacedXrefPdf(await samplePdf()), /cross-reference|startxref/],
    ['startxref pointing beside the xref stream', async () => misplacedXrefPdf(await samplePdf({ objectStreams: true })), /cross-reference|startxref/],
    ['startxref past the end of the file', async () => Buffer.from((await samplePdf()).toString('latin1').replace(/startxref\s+\d+/, 'startxref\n99999999'), 'latin1'), /beyond the end/],
    [
      'an xref entry pointing at the wrong object',
      async () => {
        const text = (await samplePdf()).toString('latin1');
        // The second in-use entry moved by one byte.
        const entries = [...text.matchAll(/(\d{10}) 00000 n/g)];
        const entry = entries[1]!;
        const moved = `${String(Number(entry[1]) + 1).padStart(10, '0')} 00000 n`;
        return Buffer.from(text.slice(0, entry.index) + moved + text.slice(entry.index! + moved.length), 'latin1');
      },
      /puts object/,
    ],
    [
      'a PDF without any page',
      async () => {
        const document = await PDFDocument.create();
        return Buffer.from(await document.save({ addDefaultPage: false }));
      },
      /no page/,
    ],
    // Hostile structure: each case made a TypeError/RangeError (an answer of 500), a hang, or an accepted file before.
    ['a cross-reference stream whose /W widths are not whole numbers', async () => appendXrefStream(await samplePdf(), '/W [1 1.5 1] /Index [999 1]', Buffer.alloc(8)), /\/W widths/],
    ['a predictor with negative /Columns (looped forever)', async () => appendXrefStream(await samplePdf(), '/W [1 2 1] /Index [999 1] /DecodeParms << /Predictor 12 /Columns -2 >>', Buffer.alloc(10)), /Columns -2/],
    ['a cross-reference stream inflating to 80 MiB', async () => appendXrefStream(await samplePdf(), '/W [1 2 1] /Index [999 1]', Buffer.alloc(80 * 1024 * 1024)), /decode to more than 64 MiB/],
    ['an object stream inflating to 80 MiB (pdf-lib would inflate it whole)', async () => objectStreamBomb(await samplePdf(), 80 * 1024 * 1024), /decode to more than 64 MiB/],
    // LZW has no bounded decoder here: refused for object and cross-reference streams (same length, so offsets hold).
    ['an object stream in LZW', async () => objectStreamBomb(await samplePdf(), 16).toString('latin1').replace('/ObjStm /N 1 /First 4 /Filter /FlateDecode', '/ObjStm /N 1 /First 4 /Filter /LZWDecode  '), /uses filter \/LZWDecode/],
    ['a trailer that does not parse', async () => editTrailer(await samplePdf(), ' ]]] '), /cross-reference sections do not parse/],
    ['a trailer nested 100000 arrays deep', async () => editTrailer(await samplePdf(), ` /X ${'['.repeat(100_000)} `), /cross-reference sections do not parse/],
    ['a /Prev that is not an offset in the file', async () => editTrailer(await samplePdf(), ' /Prev 9.5 '), /\/Prev \(9\.5\)/],
    ['a /Size beyond the object numbers a reader handles', async () => Buffer.from((await samplePdf()).toString('latin1').replace(/\/Size \d+/, '/Size 99999999999'), 'latin1'), /\/Size/],
    [
      'a later trailer in the file than the one startxref names',
      async () => {
        const original = await samplePdf();
        const text = original.toString('latin1');
        const startxref = /startxref\s+(\d+)/.exec(text.slice(text.lastIndexOf('startxref')))![1];
        const pages = /\/Pages\s+(\d+ \d+ R)/.exec(text)![1];
        return Buffer.concat([original, Buffer.from(`50 0 obj\n<< /Type /Catalog /Pages ${pages} >>\nendobj\ntrailer\n<< /Root 50 0 R /Size 51 >>\nstartxref\n${startxref}\n%%EOF\n`, 'latin1')]);
      },
      /not the one startxref points at/,
    ],
    [
      'more signature dictionaries than are checked in one file',
      async () => {
        const text = (await samplePdf()).toString('latin1');
        const at = text.lastIndexOf('startxref');
        const signatures = Array.from({ length: 51 }, (_, i) => `${900 + i} 0 obj\n<< /Type /Sig /ByteRange [0 1 2 3] /Contents <3000> >>\nendobj\n`).join('');
        return Buffer.from(text.slice(0, at) + signatures + text.slice(at), 'latin1');
      },
      /51 signatures/,
    ],
    [
      'an object in the body that does not parse',
      async () => {
        const text = (await samplePdf()).toString('latin1');
        // Same length, so that every offset still holds.
        return Buffer.from(text.replace('/Type /Catalog', '/Type ]]]) >>>'), 'latin1');
      },
      /does not parse/,
    ],
  ];
  for (const [what, make, detail] of cases) {
    it(`refuses ${what}: DOCUMENT_CONTENT_INVALID`, async () => {
      const made = await make();
      const error = await refusal(typeof made === 'string' ? Buffer.from(made, 'latin1') : made);
      expect(error?.code).toBe('DOCUMENT_CONTENT_INVALID');
      expect(error?.status).toBe(422);
      expect(error?.detail).toMatch(detail);
    });
  }

  it('the sealer refuses them too, before asking the TSA', async () => {
    const sealer = createDocumentSealer({ credentials, tsaUrl: 'http://127.0.0.1:9/', trust, timeoutMs: 500 });
    for (const bad of [encryptedPdf(await samplePdf()), truncatedPdf(await samplePdf()), randomBytes(100)]) {
      await expect(sealer.sealPdf(bad)).rejects.toMatchObject({ code: 'DOCUMENT_CONTENT_INVALID' });
      await expect(sealer.inspectPdf(bad)).rejects.toMatchObject({ code: 'DOCUMENT_CONTENT_INVALID' });
    }
  });
});

describe('readPdf accepts well-formed PDFs', () => {
  it('reads the form of the last cross-reference section and finds no signature', async () => {
    expect(await readPdf(await samplePdf())).toMatchObject({ xrefForm: 'table', signatures: [] });
    expect(await readPdf(await samplePdf({ objectStreams: true }))).toMatchObject({ xrefForm: 'stream', signatures: [] });
    const qpdf = await readPdf(qpdfObjectStreams(await samplePdf({ pages: 4 })));
    expect(qpdf.xrefForm).toBe('stream');
    expect(qpdf.document.getPageCount()).toBe(4);
    // A file an earlier save left a trailing blank after %%EOF is still read.
    expect(await refusal(Buffer.concat([await samplePdf(), Buffer.from('\r\n\r\n')]))).toBeUndefined();
  });
});

describe('the incremental update', () => {
  const sealer = () => createDocumentSealer({ credentials, tsaUrl, trust, timeoutMs: 5_000 });

  it('is well-formed for qpdf and finds its own signature again', async () => {
    const originals = [await samplePdf(), await samplePdf({ objectStreams: true }), qpdfObjectStreams(await samplePdf({ pages: 2 })), qpdfLinearized(await samplePdf({ pages: 2 })), cairoPdf(await samplePdf())];
    for (const original of originals) {
      const sealed = await sealer().sealPdf(original);
      const check = qpdfCheck(write(sealed.content));
      expect(check.status, check.output).toBe(0);
      expect(check.output).toContain('No syntax or stream encoding errors');
      const read = await readPdf(sealed.content);
      expect(read.signatures).toHaveLength(1);
      expect(read.signatures[0]).toMatchObject({ type: 'Sig', subFilter: 'ETSI.CAdES.detached', fieldName: 'Seal1' });
      expect(read.signatures[0]!.contents.equals(sealed.sealCms)).toBe(true);
      expect(read.signatures[0]!.signedAt!.toISOString()).toBe(sealed.signature.signedAt);
      expect(read.document.getPageCount()).toBe((await readPdf(original)).document.getPageCount());
    }
  });

  it('keeps an existing form and its fields, adding the seal beside them', async () => {
    const document = await PDFDocument.create();
    document.addPage();
    const form = document.getForm();
    form.createTextField('applicant').addToPage(document.getPage(0), { x: 50, y: 700, width: 200, height: 20 });
    form.getTextField('applicant').setText('Nguyen Van A');
    const original = Buffer.from(await document.save());
    const sealed = await sealer().sealPdf(original);
    const twice = await sealer().sealPdf(sealed.content);

    const reread = await PDFDocument.load(twice.content);
    const names = reread.getForm().getFields().map((f) => f.getName());
    expect(names).toEqual(['applicant', 'Seal1', 'Seal2']);
    expect(reread.getForm().getTextField('applicant').getText()).toBe('Nguyen Van A');
    expect(qpdfCheck(write(twice.content)).status).toBe(0);
    const report = pdfsig(write(twice.content), { nssDir: nssDirKnowingSeal });
    expect(report.signatures.map((s) => [s.fields['Signature Field Name'], s.signatureValidation, s.certificateValidation])).toEqual([
      ['Seal1', 'Signature is Valid.', 'Certificate is Trusted.'],
      ['Seal2', 'Signature is Valid.', 'Certificate is Trusted.'],
    ]);
  });

  it('copies the page the cross-reference sections name, not a later definition they do not name', async () => {
    // A second definition of the page after the last section: pdf-lib alone would take it (it keeps
    // the last one in the file), viewers follow the cross-reference table to the original.
    const original = await samplePdf();
    const text = original.toString('latin1');
    const page = /(\d+) 0 obj\s*<<\s*\/Type \/Page\b[^]*?endobj/.exec(text)!;
    const shadow = page[0].replace(/\/MediaBox \[[^\]]*\]/, '/MediaBox [ 0 0 100 100 ]');
    expect(shadow).not.toBe(page[0]);
    const at = text.lastIndexOf('startxref');
    const shadowed = Buffer.from(`${text.slice(0, at)}${shadow}\n${text.slice(at)}`, 'latin1');
    expect((await readPdf(shadowed)).document.getPage(0).getSize()).toEqual({ width: 595, height: 842 });

    const sealed = await sealer().sealPdf(shadowed);
    const shown = spawnSync('qpdf', ['--show-object=' + page[1], write(sealed.content)], { encoding: 'utf8' });
    expect(shown.stdout).toMatch(/\/MediaBox \[ 0 0 595 842 \]/);
  });

  it('refuses a CMS larger than the space reserved for it', async () => {
    const prepared = prepareSignature(await readPdf(await samplePdf()), { signedAt: new Date(), capacity: 100 });
    expect(() => embedSignature(prepared, randomBytes(101))).toThrow(/does not fit/);
    // The reserved /Contents is exactly where the byte range leaves its gap.
    const [, b, c] = prepared.byteRange;
    expect(prepared.bytes.toString('latin1', b, c)).toBe(`<${'0'.repeat(200)}>`);
  });
});
