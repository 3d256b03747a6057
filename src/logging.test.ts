import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, maskIdentifiers, serializeError } from './logging.ts';

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

  it('logs an error as type, message, stack, known fields and causes: never the request an HTTP client error carries', () => {
    // Shaped like axios's error when an answer is too large: the request it sent rides along.
    const transport = Object.assign(new Error('maxContentLength size of 262144 exceeded'), {
      code: 'ERR_BAD_RESPONSE',
      config: { data: '<SoDinhDanh>014089001234</SoDinhDanh><MaCanBo>canbo-17</MaCanBo>', headers: { authorization: 'Bearer k' } },
      request: { socket: { parser: {} } },
    });
    const err = Object.assign(new Error('population database: the answer for 014089001234 is too large', { cause: transport }), { code: 'UPSTREAM_BAD_RESPONSE', status: 502 });
    const serialized = serializeError(err) as Record<string, unknown>;
    expect(serialized).toMatchObject({ type: 'Error', code: 'UPSTREAM_BAD_RESPONSE', status: 502, cause: { code: 'ERR_BAD_RESPONSE', message: 'maxContentLength size of 262144 exceeded' } });
    const text = JSON.stringify(serialized);
    for (const secret of ['014089001234', 'canbo-17', 'Bearer', 'socket', 'config']) expect(text).not.toContain(secret);
  });
});
