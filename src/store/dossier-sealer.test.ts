import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DossierDataError } from '../core/dossiers/sealed.ts';
import { createDossierSealer } from './dossier-sealer.ts';

describe('dossier data at rest', () => {
  const key = randomBytes(32);
  const sealer = createDossierSealer(key);
  const applicant = { name: 'Cầm Thị Hoa', identifier: '014192004567', phone: '0912345678' };

  it('seals a value so that nothing of it shows, and opens it at its place', () => {
    const sealed = sealer.seal({ code: 'H52-261127-0001' }, applicant);
    for (const value of Object.values(applicant)) expect(sealed).not.toContain(value);
    expect(sealer.seal({ code: 'H52-261127-0001' }, applicant)).not.toBe(sealed);
    expect(sealer.open({ code: 'H52-261127-0001' }, sealed)).toEqual(applicant);
    // Another instance over the same privacy key reads it (another process, a restart).
    expect(createDossierSealer(Buffer.from(key)).open({ code: 'H52-261127-0001' }, sealed)).toEqual(applicant);
  });

  it('refuses a value moved to another dossier or change, altered, under another key, or stored in clear', () => {
    const sealed = sealer.seal({ code: 'H52-261127-0001', sequence: 2 }, applicant);
    const refused = (place: { code: string; sequence?: number }, stored: string, other = sealer) => expect(() => other.open(place, stored)).toThrow(DossierDataError);
    refused({ code: 'H52-261127-0002', sequence: 2 }, sealed);
    refused({ code: 'H52-261127-0001', sequence: 3 }, sealed);
    refused({ code: 'H52-261127-0001' }, sealed);
    const bytes = Buffer.from(sealed.slice(sealed.indexOf(':') + 1), 'base64');
    bytes[bytes.length - 20]! ^= 1;
    refused({ code: 'H52-261127-0001', sequence: 2 }, `${sealed.slice(0, sealed.indexOf(':') + 1)}${bytes.toString('base64')}`);
    refused({ code: 'H52-261127-0001', sequence: 2 }, sealed, createDossierSealer(randomBytes(32)));
    refused({ code: 'H52-261127-0001' }, JSON.stringify(applicant));
  });
});
