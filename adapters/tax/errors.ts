import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { UpstreamResponse } from '../../src/resilience/upstream-http.ts';
import { isSuccessCode, RESULT_CODES, wireAnswerDocument, type WireTaxpayer } from './inferred.ts';
import { parseXml, screenXml, XmlRefusedError } from './safe-xml.ts';

export function badResponse(detail: string, cause?: unknown): GatewayError {
  return new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: `tax administration: ${detail}`, upstreamFailure: true, cause });
}

const XML_TYPE = /^(application|text)\/xml\s*(;|$)/i;

/**
 * First look at an answer: the failures that do not depend on its content, then the checks that
 * make the bytes safe to hand to a signature check and a parser. Returns the document's text.
 */
export function readAnswer(response: UpstreamResponse, retryAfterSeconds: number): string {
  if (response.status >= 500 || response.status === 429) {
    throw new GatewayError('UPSTREAM_UNAVAILABLE', {
      detail: 'the tax administration is failing',
      retryAfter: retryAfterSeconds,
      upstreamFailure: true,
      cause: new Error(`HTTP ${response.status}: ${response.body.subarray(0, 200).toString('utf8')}`),
    });
  }
  if (response.status === 401 || response.status === 403) {
    throw new GatewayError('UPSTREAM_AUTH', {
      detail: 'the tax administration refused the gateway',
      upstreamFailure: true,
      cause: new Error(`HTTP ${response.status}`),
    });
  }
  const contentType = String(response.headers['content-type'] ?? '');
  if (!XML_TYPE.test(contentType)) throw badResponse(`unexpected content type "${contentType.slice(0, 60)}"`);
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1];
  if (charset && !/^utf-?8$/i.test(charset)) throw badResponse(`unexpected charset "${charset.slice(0, 20)}"`);
  try {
    return screenXml(response.body);
  } catch (err) {
    if (err instanceof XmlRefusedError) throw badResponse(`the answer was refused: ${err.message}`, err);
    throw err;
  }
}

/** What the client sent, to check that the answer is about it. */
export interface SentLookup {
  maSoThue: string;
  maYeuCau: string;
}

/**
 * Turns an answer (already screened, and verified once signatures land) into the taxpayer's
 * record or into one of our errors. The tax administration's own messages never reach the
 * caller: they go to the log through `cause`.
 */
export function interpretAnswer(status: number, xml: string, sent: SentLookup): WireTaxpayer {
  let document: unknown;
  try {
    document = parseXml(xml);
  } catch (err) {
    if (err instanceof XmlRefusedError) throw badResponse(`the answer is not usable XML: ${err.message}`, err);
    throw err;
  }
  const parsed = wireAnswerDocument.safeParse(document);
  if (!parsed.success) throw badResponse('the answer does not have the documented shape', parsed.error);
  const answer = parsed.data.KetQuaTraCuu;
  const known = status === 200 && (isSuccessCode(answer.MaLoi) || answer.MaLoi === RESULT_CODES.notFound);
  if (!known) throw badResponse(`refused the request (HTTP ${status}, code ${answer.MaLoi.slice(0, 10)})`, new Error(answer.MoTa ?? ''));
  // The echoed request id binds the answer to this request (and, once signed, proves it).
  if (answer.MaYeuCau !== sent.maYeuCau) throw badResponse('the answer is not for this request (MaYeuCau differs)');
  if (answer.MaLoi === RESULT_CODES.notFound) {
    throw new GatewayError('SUBJECT_NOT_FOUND', { detail: 'the tax administration has no taxpayer with this tax code' });
  }
  if (!answer.NguoiNopThue) throw badResponse('a success answer without a taxpayer');
  if (answer.NguoiNopThue.MaSoThue !== sent.maSoThue) throw badResponse('answered about another taxpayer than the one asked for');
  return answer.NguoiNopThue;
}
