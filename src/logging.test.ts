import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, maskIdentifiers } from './logging.ts';

describe('logging', () => {
  it('masks 12-digit ID numbers and 9-digit card numbers, not enterprise codes', () => {
    expect(maskIdentifiers('/v1/taxpayers/014089001234')).toBe('/v1/taxpayers/014*******34');
    expect(maskIdentifiers('cmnd 050712345 end')).toBe('cmnd 050****45 end');
    expect(maskIdentifiers('/v1/enterprises/5500123457')).toBe('/v1/enterprises/5500123457');
    expect(maskIdentifiers('0140890012345')).toBe('0140890012345'); // 13 digits: not an ID number
  });

  it('redacts credentials and personal fields passed to the logger by hand', () => {
    const lines: string[] = [];
    const log = createLogger(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _e, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    log.info(
      { authorization: 'Bearer sandbox-portal-key', subject: { idNumber: '014089001234', fullName: 'Lò Văn Thắng', dateOfBirth: '1989-04-17' }, wire: { deep: { SoDinhDanh: '014089001234' } } },
      'lookup',
    );
    const text = lines.join('');
    expect(text).toContain('lookup');
    for (const secret of ['sandbox-portal-key', '014089001234', 'Lò Văn Thắng', '1989-04-17']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });
});
