import { envelopeReader } from '../signed-json/client.ts';
import { NOT_FOUND_CODE, wireAnswer } from './inferred.ts';

/**
 * The registry's answers: its record, or one of our errors. The registry's own messages never
 * reach the caller: they go to the log through `cause`.
 */
const reader = envelopeReader({
  system: 'business registry',
  answer: wireAnswer,
  notFound: { code: NOT_FOUND_CODE, detail: 'the business registry has no enterprise with this code' },
  keyOf: (enterprise) => enterprise.MaSoDoanhNghiep,
  subject: 'enterprise',
});

export const { badResponse, read: interpretAnswer } = reader;
