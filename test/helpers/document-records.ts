import type { DocumentRecord } from '../../src/core/documents/port.ts';

const DAY_MS = 86_400_000;

/**
 * A stored document's metadata as the document store answers it: a result of `subject`
 * (a citizen), deposited yesterday (relative to `now`), valid without end, not destroyed.
 */
export function documentRecord(code: string, subject: string, hashIdentifier: (value: string) => string, overrides: Partial<DocumentRecord> = {}, now = new Date()): DocumentRecord {
  return {
    code,
    kind: 'result',
    subjectType: 'citizen',
    subject,
    subjectHash: hashIdentifier(subject),
    documentType: 'KQ.G15.000031',
    name: 'Giấy khai sinh',
    mediaType: 'application/pdf',
    procedureCode: null,
    dossierCode: null,
    issuingAgency: 'H52.101.114',
    issuedOn: null,
    validUntil: null,
    sha256: 'a'.repeat(64),
    size: 1000,
    signatures: [],
    sealCms: null,
    depositedAt: new Date(now.getTime() - DAY_MS).toISOString(),
    clientId: 'sandbox-agency',
    agency: 'H52.101.114',
    userHash: 'u'.repeat(64),
    retainUntil: null,
    legalHold: false,
    destroyedAt: null,
    ...overrides,
  };
}
