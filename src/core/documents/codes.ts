import { vietnamDay } from '../time.ts';

/**
 * Document codes. The circular on one-stop electronic dossiers names result codes but its annex
 * with their layout is not public: the layout here is INFERRED, not taken from the circular.
 *
 * `<issuingAgency>.<documentType>.<yyyy>.<NNNNNN>`: the issuing agency's code (H52.101.114), the
 * document type's code (KQ.G15.000031), the deposit year in Vietnam time, and a sequence the
 * store allocates per prefix in the row's transaction (unique across processes; gaps allowed).
 * Every part but the sequence is known before the deposit is committed: that is the prefix.
 */

/** The fixed part of a document's code (see above): the store appends `.` and the sequence. */
export function documentCodePrefix(issuingAgency: string, documentType: string, depositedAt: Date): string {
  return `${issuingAgency}.${documentType}.${vietnamDay(depositedAt).slice(0, 4)}`;
}

/** Digits of the sequence, zero-padded (more when a prefix passes 999999 documents). */
export const SEQUENCE_DIGITS = 6;

/** A document's content under the gateway's public address: where the national portal fetches it. */
export const documentContentPath = (code: string): string => `/v1/documents/${encodeURIComponent(code)}/content`;

/** Where the national portal fetches a document, the address itself its credential (getSharedDocumentContent). */
export const sharedDocumentPath = (code: string, token: string): string => `/v1/documents/${encodeURIComponent(code)}/shared/${token}`;
