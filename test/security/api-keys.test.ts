import { describe, expect, it, vi } from 'vitest';

// Every comparison the key ring makes, counted.
const compared = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return {
    ...crypto,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.count++;
      return crypto.timingSafeEqual(a, b);
    },
  };
});

const { createKeyRing } = await import('../../src/http/auth.ts');
const { hashApiKey } = await import('../../src/config/load.ts');

const clients = Array.from({ length: 8 }, (_, i) => ({
  id: `client-${i}`,
  agency: 'H52',
  roles: ['portal' as const],
  operations: ['*'],
  actsFor: [],
  purposes: [],
  keyHash: hashApiKey(`key-of-client-${i}-000000`),
  disabled: false,
}));

describe('API key lookup', () => {
  it('compares the presented key with every client, in constant time, whether it matches the first, the last or none', () => {
    const find = createKeyRing([...clients, { id: 'cert-only', agency: 'H52', actsFor: [], roles: ['portal'], operations: ['*'], purposes: [], certificate: { subject: { CN: 'x' }, issuer: { CN: 'y' } }, disabled: false }]);
    for (const [key, expected] of [
      ['key-of-client-0-000000', 'client-0'],
      ['key-of-client-7-000000', 'client-7'],
      ['no-such-key-000000000', undefined],
      ['key-of-client-0-00000', undefined],
    ] as const) {
      compared.count = 0;
      expect(find(key)?.id).toBe(expected);
      // One timingSafeEqual per client with a key: no early exit, nothing compared as strings.
      expect(compared.count, key).toBe(clients.length);
    }
  });
});
