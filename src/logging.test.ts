import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, maskIdentifiers, maskedPath, serializeError } from './logging.ts';

/** A logger at info level whose lines are kept in `lines`. */
function capturedLogger() {
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
  return { log, lines };
}

describe('logging', () => {
  it('masks every identifier form: ID numbers, old cards, tax, enterprise, branch and insurance codes', () => {
    expect(maskIdentifiers('/v1/taxpayers/014089001234')).toBe('/v1/taxpayers/014*******34');
    // Digits sent percent-encoded are masked in the path as logged, which is decoded.
    expect(maskedPath('/v1/civil-status/births/%30%31%34%30%38%39%30%30%31%32%33%34')).toBe('/v1/civil-status/births/014*******34');
    expect(maskedPath('/v1/x/%zz014089001234')).toBe('/v1/x/%zz014*******34');
    expect(maskIdentifiers('cmnd 050712345 end')).toBe('cmnd 050****45 end');
    // A personal tax code of the 10-digit form, an enterprise code and an insurance code look alike: all masked.
    expect(maskIdentifiers('/v1/taxpayers/8012345678')).toBe('/v1/taxpayers/801*****78');
    expect(maskIdentifiers('/v1/enterprises/5500123457')).toBe('/v1/enterprises/550*****57');
    expect(maskIdentifiers('/v1/taxpayers/0100109106-001')).toBe('/v1/taxpayers/010*****06-001');
    expect(maskIdentifiers('/x?insuranceCode=0123456789&idNumber=014089001234')).toBe('/x?insuranceCode=012*****89&idNumber=014*******34');
    // A health-insurance card number, and a number glued to an encoded space, keep only their ends.
    expect(maskIdentifiers('/cards/DN4010123456789')).toBe('/cards/DN401********89');
    expect(maskIdentifiers('/x/%20014089001234')).toBe('/x/%200*********34');
    // Dossier and procedure codes carry no identifier and stay readable.
    expect(maskIdentifiers('/v1/dossiers/H52.101.114-261127-0001')).toBe('/v1/dossiers/H52.101.114-261127-0001');
    expect(maskIdentifiers('1.004616.000.00.00.H52')).toBe('1.004616.000.00.00.H52');
  });

  it('masks identifiers in any URL or path field, whoever logs it', () => {
    const { log, lines } = capturedLogger();
    log.warn({ path: '/enterprises/0100109106', url: 'http://127.0.0.1:1/tax?MaSoThue=8012345678' }, 'refused');
    const text = lines.join('');
    for (const secret of ['0100109106', '8012345678']) expect(text).not.toContain(secret);
    expect(text).toContain('010*****06');
  });

  it('redacts credentials and personal fields passed to the logger by hand', () => {
    const { log, lines } = capturedLogger();
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
