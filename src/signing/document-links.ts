import { timingSafeEqual } from 'node:crypto';
import { createKeyedDigest } from './attestation.ts';

/**
 * The addresses the national portal fetches a stored document from (DuongDanTaiTepTin of a
 * reused attachment, DuongDanTepTinKetQua of a result): the portal holds no client key of ours,
 * so the address itself is the credential, as the public one-stop code gives other systems file
 * addresses that need no access key. The token is a keyed digest of the document's code under a
 * key derived from the privacy key: it cannot be guessed or made for another code, needs no
 * storage, and stops working with the content (destroyed: 410) or a new privacy key.
 */
export interface DocumentLinks {
  token(code: string): string;
  /** Whether `token` is the code's, compared in constant time. */
  verify(code: string, token: string): boolean;
}

export function createDocumentLinks(masterKey: Buffer): DocumentLinks {
  const digest = createKeyedDigest(masterKey, 'document-link');
  return {
    token: (code) => digest(code),
    verify(code, token) {
      const expected = Buffer.from(digest(code), 'utf8');
      const given = Buffer.from(token, 'utf8');
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
