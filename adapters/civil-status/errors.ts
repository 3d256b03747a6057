import { envelopeReader } from '../signed-json/client.ts';
import { NOT_FOUND_CODE, wireAnswer } from './inferred.ts';

/** The database's answers: its record, or one of our errors (its own messages only reach the log). */
const reader = envelopeReader({
  system: 'civil-status database',
  answer: wireAnswer,
  notFound: { code: NOT_FOUND_CODE, detail: 'the civil-status database has no birth registration with this ID number' },
  keyOf: (birth) => birth.SoDinhDanh,
  subject: 'person',
});

export const { badResponse, read: interpretAnswer } = reader;
