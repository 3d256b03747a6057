import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DocumentStore, NewDocument } from '../../src/core/documents/port.ts';
import type { Database } from '../../src/store/schema.ts';

const DAY = 86_400_000;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * A document committed straight to the store (no seal: what retention and the figures read is
 * the row), whose retention ends `retainDays` from now (null: permanent).
 */
export async function storeDocument(
  documents: DocumentStore,
  options: { retainDays?: number | null; kind?: NewDocument['kind']; dossierCode?: string | null } = {},
): Promise<{ code: string; content: Buffer }> {
  const content = randomBytes(3000);
  const pending = await documents.write(content);
  const now = new Date();
  const retainDays = options.retainDays ?? null;
  const record = await documents.commit(pending, {
    codePrefix: `H52.101.114.KQ.TEST.${now.getUTCFullYear()}`,
    kind: options.kind ?? 'result',
    subjectType: 'citizen',
    subject: '014089001234',
    subjectHash: 'a'.repeat(64),
    documentType: 'KQ.TEST',
    name: 'Giấy tờ thử',
    mediaType: 'application/pdf',
    procedureCode: null,
    dossierCode: options.dossierCode ?? null,
    issuingAgency: 'H52.101.114',
    issuedOn: null,
    validUntil: null,
    sha256: sha256(content),
    size: content.length,
    signatures: [],
    sealCms: randomBytes(64),
    depositedAt: now,
    clientId: 'ops-test',
    agency: 'H52.101.114',
    userHash: 'u'.repeat(64),
    retainUntil: retainDays === null ? null : new Date(now.getTime() + retainDays * DAY),
  });
  return { code: record.code, content };
}

/** A dossier row as the figures read it (the sealed document is a placeholder: the figures never open it). */
export async function insertDossier(
  db: Kysely<Database>,
  dossier: { code: string; receivedAt: string; agency: string; handlingAgency?: string | null; digitisedSubmission?: boolean; reusedDocument?: boolean },
): Promise<void> {
  const at = new Date().toISOString();
  await db
    .insertInto('dossiers')
    .values({
      code: dossier.code,
      procedure_code: '1.001808.000.00.00.H52',
      status: 1,
      received_at: dossier.receivedAt,
      due_at: null,
      document: 'x',
      content_hash: 'h'.repeat(64),
      clock: '{}',
      on_time_state: 'pending',
      deadline_at: '9999-12-31',
      supplement_since: null,
      last_sequence: 1,
      portal_known: 0,
      client_id: 'ops-test',
      agency: dossier.agency,
      purpose: null,
      subject_hash: 's'.repeat(64),
      created_at: at,
      updated_at: at,
      handling_agency: dossier.handlingAgency ?? null,
      digitised_submission: dossier.digitisedSubmission ? 1 : 0,
      reused_document: dossier.reusedDocument ? 1 : 0,
    })
    .execute();
}
