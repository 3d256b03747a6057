import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { EnterpriseCode } from '../identifiers/tax-code.ts';
import type { CallContext } from '../ports.ts';
import { documentContentPath } from './codes.ts';
import type { DocumentRecord, DocumentSealer, DocumentStore, DossierDocuments, NewDocument, PendingContent, SignatureFacts } from './port.ts';
import { checkDepositAllowed, createDocumentService, retainUntil, wellFormedSubject, type DepositActor, type DepositMetadata, type Depositor, type DocumentServiceOptions } from './service.ts';

/** In-memory stand-ins for the ports: what the service asked of them is kept for the assertions. */
function fakes(options: { people?: string[]; enterprises?: string[]; inspect?: (pdf: Buffer) => SignatureFacts[] } = {}) {
  const written = new Map<PendingContent, Buffer>();
  const discarded: PendingContent[] = [];
  const committed: { content: Buffer; document: NewDocument; record: DocumentRecord }[] = [];
  const destroyed = new Set<string>();
  let sequence = 0;
  const store: DocumentStore = {
    async write(content) {
      const chunks: Buffer[] = [];
      if (Buffer.isBuffer(content)) chunks.push(content);
      else for await (const chunk of content) chunks.push(chunk as Buffer);
      const bytes = Buffer.concat(chunks);
      const pending: PendingContent = {
        sha256: createHash('sha256').update(bytes).digest('hex'),
        size: bytes.length,
        discard: async () => void discarded.push(pending),
      };
      written.set(pending, bytes);
      return pending;
    },
    async commit(content, document) {
      const { codePrefix, depositedAt, retainUntil: until, ...rest } = document;
      const record: DocumentRecord = {
        ...rest,
        code: `${codePrefix}.${String(++sequence).padStart(6, '0')}`,
        depositedAt: depositedAt.toISOString(),
        retainUntil: until?.toISOString() ?? null,
        legalHold: false,
        destroyedAt: null,
      };
      committed.push({ content: written.get(content)!, document, record });
      return record;
    },
    async get(code) {
      const found = committed.find((c) => c.record.code === code)?.record;
      return found && destroyed.has(code) ? { ...found, destroyedAt: '2026-01-01T00:00:00.000Z' } : found;
    },
    async list(filter) {
      const items = committed.map((c) => c.record).filter((r) => r.subjectHash === filter.subjectHash);
      return { items, total: items.length };
    },
    forDossier: async () => [],
    async read(code) {
      const found = committed.find((c) => c.record.code === code);
      return found && !destroyed.has(code) ? { stream: Readable.from([found.content]), size: found.content.length } : undefined;
    },
    async readAll(code) {
      readWhole.push(code);
      const found = committed.find((c) => c.record.code === code);
      return found && !destroyed.has(code) ? found.content : undefined;
    },
    setLegalHold: async () => undefined,
    dueForDestruction: async () => [],
    destroy: async () => false,
    sweep: async () => 0,
  };
  const certificate = { subject: 'CN=seal', issuer: 'CN=ca', serialNumber: '01', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2028-01-01T00:00:00.000Z', sha256: 'ab'.repeat(32) };
  const seal = (form: 'pades' | 'cms'): SignatureFacts => ({ form, by: 'gateway', signer: certificate, signedAt: '2026-12-04T02:00:00.000Z', timestamp: { genTime: '2026-12-04T02:00:01.000Z', tsa: certificate, serialNumber: '7', policy: '1.2.3' } });
  const sealed: { pdf: Buffer[]; detached: Buffer[] } = { pdf: [], detached: [] };
  const checked: (Buffer | undefined)[] = [];
  /** The digests check was given in place of the content. */
  const digests: (Buffer | undefined)[] = [];
  /** Codes whose whole content was read into memory. */
  const readWhole: string[] = [];
  const sealer: DocumentSealer = {
    inspectPdf: async (pdf) => options.inspect?.(pdf) ?? [],
    async sealPdf(pdf) {
      sealed.pdf.push(pdf);
      return { content: Buffer.concat([pdf, Buffer.from('\n% sealed\n')]), sealCms: Buffer.from('cms'), signature: seal('pades') };
    },
    async sealDetached(sha256) {
      sealed.detached.push(sha256);
      return { sealCms: Buffer.from('p7s'), signature: seal('cms') };
    },
    async check(_document, content, checkOptions) {
      checked.push(content);
      digests.push(checkOptions?.contentDigest);
      return { checkedAt: '2026-12-04T03:00:00.000Z', valid: true, contentChecked: content !== undefined || checkOptions?.contentDigest !== undefined, signatures: [] };
    },
  };
  const dossierCalls: string[] = [];
  const dossiers: DossierDocuments = {
    async checkDepositFor(scope, code, subject) {
      dossierCalls.push(`check ${scope.clientId} ${code} ${subject.identifier}`);
      if (code.endsWith('9999')) throw new GatewayError('DOSSIER_NOT_FOUND', { detail: `no dossier ${code}` });
    },
    async resultDeposited(_actor, code, documentCode) {
      dossierCalls.push(`result ${code} ${documentCode}`);
    },
  };
  const people = new Set(options.people ?? ['014089001234']);
  /** Whom the population database was asked about. */
  const asked: string[] = [];
  const enterprises = new Set(options.enterprises ?? []);
  return {
    store,
    sealer,
    dossiers,
    population: {
      exists: async (_ctx: CallContext, query: { idNumber: string }) => (asked.push(query.idNumber), people.has(query.idNumber)),
      lookup: async () => Promise.reject(new Error('not used')),
    },
    registry: {
      getEnterprise: async (_ctx: CallContext, code: EnterpriseCode) => {
        if (!enterprises.has(code.code)) throw new GatewayError('SUBJECT_NOT_FOUND');
        return {} as never;
      },
    },
    written,
    discarded,
    committed,
    destroyed,
    sealed,
    checked,
    digests,
    readWhole,
    dossierCalls,
    asked,
  };
}

const OPTIONS: DocumentServiceOptions = {
  maxBytes: 1024 * 1024,
  mediaTypes: ['application/pdf', 'image/png', 'image/jpeg', 'image/tiff'],
  checkSubject: true,
  retention: { default: 'permanent', byType: { CCCD: 10 } },
  contentUrl: (code: string) => `https://gateway.example${documentContentPath(code)}`,
};

const PDF = Buffer.from('%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n');
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');

const ctx = { log: { error: () => undefined } } as unknown as CallContext;
const actor: DepositActor = { clientId: 'sandbox-portal', agency: 'H52', userHash: 'u', purpose: 'TIEP_NHAN_HO_SO', scope: { all: false, clientId: 'sandbox-portal', agencies: ['H52'] } };
const metadata = (over: Partial<DepositMetadata> = {}): DepositMetadata => ({
  subjectType: 'citizen',
  subject: '014089001234',
  kind: 'result',
  documentType: 'KQ.G15.000031',
  name: 'Giấy chứng nhận',
  issuingAgency: 'H52.101.114',
  ...over,
});

function setup(now = new Date('2026-12-04T02:00:00Z'), options: Parameters<typeof fakes>[0] = {}) {
  const f = fakes(options);
  const service = createDocumentService({ ...f, hashIdentifier: (v) => `hash:${v}`, now: () => now }, OPTIONS);
  const file = (bytes: Buffer, filename: string, declaredType: string) => service.receive({ stream: Readable.from([bytes]), filename, declaredType });
  return { ...f, service, file };
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

describe('receiving a file', () => {
  it('judges the type by content: PNG bytes named and declared a PDF are refused as not what they claim', async () => {
    const { file, written } = setup();
    const err = await refusal(file(PNG, 'decision.pdf', 'application/pdf'));
    expect(err.code).toBe('DOCUMENT_CONTENT_INVALID');
    expect(err.errors?.[0]?.field).toBe('body.file');
    expect((await refusal(file(PNG, 'decision.pdf', ''))).code).toBe('DOCUMENT_CONTENT_INVALID');
    expect(written.size).toBe(0);
  });

  it('lets go of a refused file unread, so that the rest of it can be drained', async () => {
    const { service } = setup();
    const stream = new PassThrough({ highWaterMark: 1024 });
    stream.write(Buffer.concat([PNG, Buffer.alloc(5000)]));
    const refused = refusal(service.receive({ stream, filename: 'scan.pdf', declaredType: 'application/pdf' }));
    expect((await refused).code).toBe('DOCUMENT_CONTENT_INVALID');
    const ended = new Promise((resolve) => stream.once('end', resolve));
    stream.resume();
    for (let i = 0; i < 50; i++) stream.write(Buffer.alloc(1024));
    stream.end();
    await ended;
  });

  it('refuses a type it does not accept with 415, and accepts a part that claims nothing', async () => {
    const { file } = setup();
    const zip = Buffer.concat([Buffer.from('504b0304', 'hex'), Buffer.alloc(100)]);
    expect((await refusal(file(zip, 'a.zip', 'application/zip'))).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect((await refusal(file(Buffer.from('just text'), 'notes', 'application/octet-stream'))).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect((await file(PNG, 'scan', 'application/octet-stream')).mediaType).toBe('image/png');
  });

  it('takes text/plain on the file part as no claim: the type a part without Content-Type is given', async () => {
    const { file } = setup();
    expect((await file(PDF, 'decision.pdf', 'text/plain')).mediaType).toBe('application/pdf');
    expect((await file(PNG, 'scan', 'text/plain')).mediaType).toBe('image/png');
  });

  it('reads the common other names of a type as that type, and still refuses one that names another', async () => {
    const { file } = setup();
    expect((await file(PDF, 'a.pdf', 'application/x-pdf')).mediaType).toBe('application/pdf');
    expect((await file(PNG, 'a.png', 'image/x-png')).mediaType).toBe('image/png');
    const jpeg = Buffer.concat([Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'), Buffer.alloc(100)]);
    expect((await file(jpeg, 'a.jpg', 'image/jpg')).mediaType).toBe('image/jpeg');
    expect((await file(jpeg, 'a.jpe', 'image/pjpeg')).mediaType).toBe('image/jpeg');
    const err = await refusal(file(PNG, 'a.png', 'image/jpg'));
    expect(err).toMatchObject({ code: 'DOCUMENT_CONTENT_INVALID', detail: 'the file is declared image/jpeg but its content is image/png' });
  });

  it('holds a PDF whole and streams anything else into the store, in chunks of any size', async () => {
    const { service, written } = setup();
    const pdf = await service.receive({ stream: Readable.from([PDF.subarray(0, 3), PDF.subarray(3)]), filename: 'a.pdf', declaredType: 'application/pdf' });
    expect(pdf.pdf?.equals(PDF)).toBe(true);
    expect(written.size).toBe(0);
    const large = Buffer.concat([PNG, Buffer.alloc(10_000, 7)]);
    const image = await service.receive({ stream: Readable.from([large.subarray(0, 5), large.subarray(5, 6000), large.subarray(6000)]), filename: 'a.png', declaredType: 'image/png' });
    expect(image.pending?.size).toBe(large.length);
    expect(written.get(image.pending!)?.equals(large)).toBe(true);
  });
});

describe('depositing', () => {
  it('seals a result PDF, stores the sealed file and answers its code, hash and seal', async () => {
    const { service, file, committed, sealed } = setup();
    const answer = await service.deposit(ctx, actor, metadata(), await file(PDF, 'a.pdf', 'application/pdf'));
    expect(sealed.pdf).toEqual([PDF]);
    expect(answer.code).toBe('H52.101.114.KQ.G15.000031.2026.000001');
    const stored = committed[0]!;
    expect(stored.content.subarray(0, PDF.length).equals(PDF)).toBe(true);
    expect(answer.sha256).toBe(createHash('sha256').update(stored.content).digest('hex'));
    expect(stored.document).toMatchObject({ subjectHash: 'hash:014089001234', mediaType: 'application/pdf', sealCms: Buffer.from('cms'), retainUntil: null });
    expect(answer).toMatchObject({ depositedAt: '2026-12-04T09:00:00+07:00', contentUrl: 'https://gateway.example/v1/documents/H52.101.114.KQ.G15.000031.2026.000001/content' });
    expect(answer.signatures).toEqual([expect.objectContaining({ form: 'pades', by: 'gateway', signedAt: '2026-12-04T09:00:00+07:00' })]);
  });

  it('keeps a submission PDF as sent, with the signatures it already carries', async () => {
    const external: SignatureFacts = { form: 'pades', by: 'external', signer: { subject: 'CN=x', issuer: 'CN=y', serialNumber: '02', notBefore: '2026-01-01T00:00:00Z', notAfter: '2027-01-01T00:00:00Z', sha256: 'cd'.repeat(32) }, signedAt: null, timestamp: null };
    const { service, file, committed, sealed } = setup(undefined, { inspect: () => [external] });
    const answer = await service.deposit(ctx, actor, metadata({ kind: 'submission' }), await file(PDF, 'a.pdf', 'application/pdf'));
    expect(sealed.pdf).toEqual([]);
    expect(committed[0]!.content.equals(PDF)).toBe(true);
    expect(answer.signatures).toEqual([expect.objectContaining({ by: 'external' })]);
  });

  it('seals another type by its SHA-256 as a detached signature', async () => {
    const { service, file, sealed, committed } = setup();
    await service.deposit(ctx, actor, metadata(), await file(PNG, 'a.png', 'image/png'));
    expect(sealed.detached).toEqual([createHash('sha256').update(PNG).digest()]);
    expect(committed[0]!.document.sealCms).toEqual(Buffer.from('p7s'));
  });

  it('refuses an unknown subject and forgets what was streamed in', async () => {
    const { service, file, committed, discarded } = setup();
    const received = await file(PNG, 'a.png', 'image/png');
    const err = await refusal(service.deposit(ctx, actor, metadata({ subject: '014089999999' }), received));
    expect(err.code).toBe('SUBJECT_NOT_FOUND');
    expect(committed).toEqual([]);
    expect(discarded).toEqual([received.pending]);
    const enterprise = await refusal(service.deposit(ctx, actor, metadata({ subjectType: 'enterprise', subject: '5500123457' }), await file(PNG, 'a.png', 'image/png')));
    expect(enterprise.code).toBe('SUBJECT_NOT_FOUND');
  });

  it('refuses a PDF whose content or signatures do not hold before asking the national database about its subject', async () => {
    const { service, file, asked, committed } = setup(undefined, {
      inspect: () => {
        throw new GatewayError('DOCUMENT_CONTENT_INVALID', { detail: 'the PDF is encrypted' });
      },
    });
    expect((await refusal(service.deposit(ctx, actor, metadata(), await file(PDF, 'a.pdf', 'application/pdf')))).code).toBe('DOCUMENT_CONTENT_INVALID');
    expect(asked).toEqual([]);
    expect(committed).toEqual([]);
  });

  it('refuses an identifier of the wrong form for its subject type before asking anyone', async () => {
    const { service, file } = setup();
    const err = await refusal(service.deposit(ctx, actor, metadata({ subjectType: 'enterprise', subject: '5500123458' }), await file(PDF, 'a.pdf', 'application/pdf')));
    expect(err).toMatchObject({ code: 'INVALID_IDENTIFIER', errors: [{ field: 'body.subject' }] });
  });

  it('checks the dossier a deposit names, and tells it of a result once stored', async () => {
    const { service, file, dossierCalls, committed, discarded } = setup();
    const answer = await service.deposit(ctx, actor, metadata({ dossierCode: 'H52.101.114-261204-0001' }), await file(PNG, 'a.png', 'image/png'));
    expect(dossierCalls).toEqual(['check sandbox-portal H52.101.114-261204-0001 014089001234', `result H52.101.114-261204-0001 ${answer.code}`]);
    const received = await file(PNG, 'a.png', 'image/png');
    expect((await refusal(service.deposit(ctx, actor, metadata({ dossierCode: 'H52.101.114-261204-9999' }), received))).code).toBe('DOSSIER_NOT_FOUND');
    expect(committed).toHaveLength(1);
    expect(discarded).toEqual([received.pending]);
  });

  it('counts retention from the issue day, else the deposit day in Vietnam time', async () => {
    // 18:00 UTC on 31 December is already 1 January in Vietnam.
    const { service, file, committed } = setup(new Date('2026-12-31T18:00:00Z'));
    await service.deposit(ctx, actor, metadata({ kind: 'submission', documentType: 'CCCD' }), await file(PNG, 'a.png', 'image/png'));
    await service.deposit(ctx, actor, metadata({ kind: 'submission', documentType: 'CCCD', issuedOn: '2024-02-29' }), await file(PNG, 'a.png', 'image/png'));
    // Kept to the end of the anniversary (Vietnam time); 29 February's in a common year is 28 February.
    expect(committed.map((c) => c.document.retainUntil?.toISOString())).toEqual(['2037-01-01T17:00:00.000Z', '2034-02-28T17:00:00.000Z']);
    // The deposit year in the code is Vietnam's too.
    expect(committed[0]!.record.code).toBe('H52.101.114.CCCD.2027.000001');
  });

  it('reads retention per type, else the default; permanent is no end', () => {
    const at = new Date('2026-06-01T00:00:00Z');
    expect(retainUntil({ default: 5, byType: { A: 'permanent' } }, 'A', undefined, at)).toBeNull();
    expect(retainUntil({ default: 5, byType: {} }, 'B', '2026-01-15', at)?.toISOString()).toBe('2031-01-15T17:00:00.000Z');
    // 29 February to 29 February in a leap year; the end of a month to the end of the next day's start.
    expect(retainUntil({ default: 4, byType: {} }, 'B', '2024-02-29', at)?.toISOString()).toBe('2028-02-29T17:00:00.000Z');
    expect(retainUntil({ default: 1, byType: {} }, 'B', '2025-12-31', at)?.toISOString()).toBe('2026-12-31T17:00:00.000Z');
  });

  it('refuses an issue day after today in Vietnam time, before anything is stored', async () => {
    // 02:00 UTC on 4 December is 09:00 on 4 December in Vietnam.
    const { service, file, committed, discarded } = setup(new Date('2026-12-04T02:00:00Z'));
    const received = await file(PNG, 'a.png', 'image/png');
    const err = await refusal(service.deposit(ctx, actor, metadata({ kind: 'submission', issuedOn: '2026-12-05' }), received));
    expect(err).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body.issuedOn', message: 'must not be after today (Vietnam time)' }] });
    expect(committed).toEqual([]);
    expect(discarded).toEqual([received.pending]);
    await service.deposit(ctx, actor, metadata({ kind: 'submission', issuedOn: '2026-12-04' }), await file(PNG, 'a.png', 'image/png'));
    // 18:00 UTC on 4 December is already 5 December in Vietnam.
    const late = setup(new Date('2026-12-04T18:00:00Z'));
    await late.service.deposit(ctx, actor, metadata({ kind: 'submission', issuedOn: '2026-12-05' }), await late.file(PNG, 'a.png', 'image/png'));
    expect(late.committed).toHaveLength(1);
  });
});

describe('reading', () => {
  it('lists by the subject\'s keyed hash, valid ones as of today in Vietnam time', async () => {
    const f = fakes();
    let asked: unknown;
    const store = { ...f.store, list: async (filter: unknown) => ((asked = filter), { items: [], total: 0 }) };
    const service = createDocumentService({ ...f, store, hashIdentifier: (v) => `hash:${v}`, now: () => new Date('2026-12-31T18:00:00Z') }, OPTIONS);
    expect(await service.list({ subject: '014089001234', valid: true, page: 2, pageSize: 5 })).toEqual({ items: [], page: 2, pageSize: 5, total: 0 });
    expect(asked).toEqual({ subjectHash: 'hash:014089001234', documentType: undefined, validOn: '2027-01-01', page: 2, pageSize: 5 });
  });

  it('checks the signatures against the content while kept, the seal alone once destroyed; content is then 410', async () => {
    const { service, file, checked, destroyed } = setup();
    const { code } = await service.deposit(ctx, actor, metadata(), await file(PDF, 'a.pdf', 'application/pdf'));
    const subjects: string[] = [];
    const kept = await service.get(code, (s) => subjects.push(s));
    expect(kept.signatureCheck).toMatchObject({ valid: true, contentChecked: true, checkedAt: '2026-12-04T10:00:00+07:00' });
    expect(subjects).toEqual(['014089001234']);
    destroyed.add(code);
    const gone = await service.get(code);
    expect(gone.signatureCheck.contentChecked).toBe(false);
    expect(checked.map((c) => c === undefined)).toEqual([false, true]);
    expect((await refusal(service.content(code))).code).toBe('DOCUMENT_DESTROYED');
    expect((await refusal(service.get('H52.KQ.2026.000404'))).code).toBe('DOCUMENT_NOT_FOUND');
  });

  it('checks other content by the digest of its stream, never reading it whole; a PDF is read whole', async () => {
    const { service, file, checked, digests, readWhole } = setup();
    const image = Buffer.concat([PNG, Buffer.alloc(70_000, 3)]);
    const { code } = await service.deposit(ctx, actor, metadata(), await file(image, 'a.png', 'image/png'));
    const answer = await service.get(code);
    expect(answer.signatureCheck.contentChecked).toBe(true);
    expect(readWhole).toEqual([]);
    expect(checked).toEqual([undefined]);
    expect(digests).toEqual([createHash('sha256').update(image).digest()]);
    const pdf = await service.deposit(ctx, actor, metadata(), await file(PDF, 'a.pdf', 'application/pdf'));
    await service.get(pdf.code);
    expect(readWhole).toEqual([pdf.code]);
  });
});

describe('who may deposit what', () => {
  const portal: Depositor = { clientId: 'sandbox-portal', roles: ['portal'], agency: 'H52', actsFor: [] };
  const desk: Depositor = { clientId: 'sandbox-agency', roles: ['agency'], agency: 'H52.101.114', actsFor: ['H52'] };
  const refused = (depositor: Depositor, fields: { kind?: string; issuingAgency?: string }) => {
    try {
      checkDepositAllowed(depositor, fields);
      return undefined;
    } catch (err) {
      return err as GatewayError;
    }
  };

  it('a portal deposits submissions only: a result is 403 naming body.kind', () => {
    expect(refused(portal, { kind: 'submission', issuingAgency: 'H52.101.114' })).toBeUndefined();
    expect(refused(portal, { kind: 'result', issuingAgency: 'H52' })).toMatchObject({ code: 'FORBIDDEN', status: 403, errors: [{ field: 'body.kind' }] });
    // Known before the issuing agency is read.
    expect(refused(portal, { kind: 'result' })?.errors?.[0]?.field).toBe('body.kind');
  });

  it('an agency deposits results issued by itself or an agency it acts for, else 403 naming body.issuingAgency', () => {
    expect(refused(desk, { kind: 'result', issuingAgency: 'H52.101.114' })).toBeUndefined();
    expect(refused(desk, { kind: 'result', issuingAgency: 'H52' })).toBeUndefined();
    expect(refused(desk, { kind: 'result', issuingAgency: 'H52.101.115' })).toMatchObject({ code: 'FORBIDDEN', errors: [{ field: 'body.issuingAgency' }] });
    expect(refused(desk, { kind: 'submission', issuingAgency: 'H52.101.115' })).toBeUndefined();
    // Fields not read yet are not judged.
    expect(refused(desk, { kind: 'result' })).toBeUndefined();
    expect(refused(desk, {})).toBeUndefined();
  });

  it('names a subject for the exchange log only when it is an identifier of either form', () => {
    expect(wellFormedSubject('014089001234')).toBe(true);
    expect(wellFormedSubject('5500123457')).toBe(true);
    expect(wellFormedSubject('not an id')).toBe(false);
    expect(wellFormedSubject(undefined)).toBe(false);
  });
});
