import { createHash } from 'node:crypto';
import type { CheckedSignature, DocumentSealer, SignatureCheck, SignatureFacts } from '../core/documents/port.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import { readPdf, type PdfFile } from './pdf.ts';
import { SignatureTimestampError, certificateFacts, signDigest, signPdf, verifyCmsSignature, verifyPdfSignature, verifyPdfSignatures, type SealOptions } from './pades.ts';
import type { Credentials, TrustStore } from './trust-store.ts';

/**
 * The agency's document seal (the DocumentSealer port): PAdES-B-T for PDFs, a detached
 * CAdES-B-T `.p7s` for other content, and the checks of signatures documents carry (pades.ts).
 */

export interface DocumentSealerOptions {
  /** The seal's key and certificate chain (certs-sample/document-seal.pem in the sandbox). */
  credentials: Credentials;
  /** The RFC 3161 TSA for signature timestamps; without one, sealing answers TIMESTAMP_UNAVAILABLE. */
  tsaUrl: string | undefined;
  /** Roots, intermediates and CRLs every signature (and the TSA's) is judged by. */
  trust: TrustStore;
  /** How long the TSA may take (default 10 s). */
  timeoutMs?: number;
}

const PDF = 'application/pdf';
/** Retry-After of TIMESTAMP_UNAVAILABLE: a TSA that failed is asked again for the next deposit, not before. */
const TIMESTAMP_RETRY_AFTER_SECONDS = 30;

/** A signature that does not verify, refused as the deposit's problem; signatures are named by their place in the file. */
function signatureInvalid(signatures: CheckedSignature[]): GatewayError {
  const named = signatures.flatMap((s, i) => (s.valid ? [] : [`signature ${i + 1}: ${s.problem ?? 'does not verify'}`]));
  return new GatewayError('DOCUMENT_SIGNATURE_INVALID', { detail: `${named.length} of the ${signatures.length} signatures the PDF carries do not verify (${named.join('; ')})` });
}

const factsOf = ({ valid: _valid, problem: _problem, ...facts }: CheckedSignature): SignatureFacts => facts;

export function createDocumentSealer(options: DocumentSealerOptions): DocumentSealer {
  const seal: SealOptions = { credentials: options.credentials, tsaUrl: options.tsaUrl, trust: options.trust, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) };

  /** Runs a sealing step, turning a missing or bad signature timestamp into TIMESTAMP_UNAVAILABLE (503). */
  async function timestamped<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof SignatureTimestampError)) throw err;
      throw new GatewayError('TIMESTAMP_UNAVAILABLE', { detail: err.message, retryAfter: TIMESTAMP_RETRY_AFTER_SECONDS, cause: err });
    }
  }

  /** Checks a stored PDF against its record: every signature it carries, and the gateway's seal among them covering the whole file. */
  async function checkPdf(document: Parameters<DocumentSealer['check']>[0], content: Buffer): Promise<CheckedSignature[]> {
    let file: PdfFile;
    try {
      file = await readPdf(content);
    } catch (err) {
      // Read at deposit, so only a reader that changed since (or other bytes) gets here: every recorded signature fails.
      const problem = `the stored file no longer reads as a PDF: ${(err as Error).message}`;
      return document.signatures.map((s) => ({ ...s, valid: false, problem }));
    }
    const sealIndex = document.sealCms ? file.signatures.findIndex((s) => s.contents.equals(document.sealCms!)) : -1;
    const checked: CheckedSignature[] = [];
    for (const [i, signature] of file.signatures.entries()) {
      const result = await verifyPdfSignature(file, signature, options.trust, { seal: i === sealIndex });
      checked.push(i === sealIndex ? { ...result, by: 'gateway' } : result);
    }
    checked.sort((a, b) => Number(a.by === 'gateway') - Number(b.by === 'gateway'));
    if (document.sealCms && sealIndex < 0) {
      checked.push({ form: 'pades', by: 'gateway', signer: certificateFacts(options.credentials.certificate), signedAt: null, timestamp: null, valid: false, problem: "the PDF no longer carries the gateway's seal" });
    }
    const sealed = checked.find((s) => s.by === 'gateway');
    if (sealed?.valid && sealed.coversWholeFile === false) Object.assign(sealed, { valid: false, problem: 'the seal does not cover the whole file: bytes were added after it' });
    return checked;
  }

  /** Checks the kept seal CMS alone (the content destroyed, or not a PDF). */
  async function checkCms(document: Parameters<DocumentSealer['check']>[0], contentDigest: Buffer | undefined): Promise<CheckedSignature> {
    const recorded = document.signatures.find((s) => s.by === 'gateway');
    const form: SignatureFacts['form'] = document.mediaType === PDF ? 'pades' : 'cms';
    const base = { form, by: 'gateway' as const, signedAt: recorded?.signedAt ?? null, ...(recorded?.coversWholeFile !== undefined ? { coversWholeFile: recorded.coversWholeFile } : {}) };
    try {
      // A .p7s signs the stored content's SHA-256, which the record keeps even once the content is gone;
      // a PDF's seal signs byte ranges of a file no longer there: only its signed attributes can be checked.
      const digest = form === 'cms' ? (contentDigest ?? Buffer.from(document.sha256, 'hex')) : undefined;
      const verified = await verifyCmsSignature(document.sealCms!, { trust: options.trust, seal: true, ...(digest ? { contentDigest: digest } : {}) });
      const timestamp = verified.timestamp!;
      return {
        ...base,
        signer: certificateFacts(verified.signer),
        timestamp: { genTime: timestamp.genTime.toISOString(), tsa: certificateFacts(timestamp.tsa), serialNumber: timestamp.serial, policy: timestamp.policy },
        valid: true,
      };
    } catch (err) {
      return { ...base, signer: recorded?.signer ?? certificateFacts(options.credentials.certificate), timestamp: recorded?.timestamp ?? null, valid: false, problem: (err as Error).message };
    }
  }

  return {
    async inspectPdf(pdf) {
      const file = await readPdf(pdf);
      const checked = await verifyPdfSignatures(file, options.trust);
      if (checked.some((s) => !s.valid)) throw signatureInvalid(checked);
      return checked.map(factsOf);
    },

    async sealPdf(pdf) {
      const file = await readPdf(pdf);
      const sealed = await timestamped(() => signPdf(file, seal));
      return { content: sealed.content, sealCms: sealed.cms, signature: sealed.signature };
    },

    async sealDetached(sha256) {
      if (sha256.length !== 32) throw new RangeError(`a SHA-256 digest has 32 bytes, not ${sha256.length}`);
      const sealed = await timestamped(() => signDigest(sha256, seal));
      return { sealCms: sealed.cms, signature: sealed.signature };
    },

    async check(document, content, checkOptions) {
      const checkedAt = new Date().toISOString();
      const signatures: CheckedSignature[] = [];
      // The content's digest: given (hashed as it streamed), or of the content handed in.
      const contentDigest = content ? createHash('sha256').update(content).digest() : checkOptions?.contentDigest;
      if (content && document.mediaType === PDF) {
        signatures.push(...(await checkPdf(document, content)));
      } else if (document.sealCms) {
        signatures.push(await checkCms(document, contentDigest));
      }
      // The store authenticates what it reads; this also catches content handed in from elsewhere.
      const sameContent = !contentDigest || contentDigest.toString('hex') === document.sha256;
      if (!sameContent) signatures.forEach((s) => Object.assign(s, { valid: false, problem: s.problem ?? 'the content is not the one deposited (its SHA-256 differs)' }));
      const valid = sameContent && signatures.every((s) => s.valid) && (!document.sealCms || signatures.some((s) => s.by === 'gateway' && s.valid));
      return { checkedAt, valid, contentChecked: contentDigest !== undefined, signatures } satisfies SignatureCheck;
    },
  };
}
