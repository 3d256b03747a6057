import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import type { DocumentRecord, DocumentStore } from '../core/documents/port.ts';
import { purgeDue } from '../core/documents/retention.ts';
import { answeredInstant } from '../core/time.ts';
import { loadHashKey } from '../signing/attestation.ts';
import { createDocumentStore } from '../store/documents.ts';
import { openStore, type Store } from '../store/store.ts';

/**
 * `lienthong documents ...`: the operator's side of the document archive. `purge` destroys the
 * content of documents past their retention (documents.retention), `hold` and `release` put a
 * document on legal hold and take it off. The exchange log is not written: these commands run
 * beside the gateway, without its log signer, and touch no one's data but by the retention rule.
 */

export const DOCUMENTS_USAGE = `  documents purge [--dry-run] [--config FILE]
                                 destroy the content (key and bytes) of every document whose
                                 retention ended and that is not on legal hold; prints each code.
                                 Metadata, SHA-256 and signatures are kept. --dry-run: only list
  documents hold CODE [--config FILE]
                                 put a document on legal hold: its content is never purged
  documents release CODE [--config FILE]
                                 take a document off legal hold (purged once its retention ends)
`;

/** Bad arguments: printed with the usage, exit code 2. */
export class DocumentsUsageError extends Error {}

interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** Opens the store and the document archive the configuration names, runs `use`, and closes them. */
async function withDocuments<T>(configFile: string | undefined, env: NodeJS.ProcessEnv, use: (documents: DocumentStore, store: Store) => Promise<T>): Promise<T> {
  const config = loadConfig(env, { file: configFile });
  // The content keys are wrapped under a key derived from the privacy key: without it nothing is readable, nor needed.
  const masterKey = loadHashKey(config.privacy.hashKeyFile, { create: false });
  const store = await openStore({ url: config.database.url, sqlitePath: config.database.sqlitePath, searchPath: config.database.schema });
  try {
    const documents = createDocumentStore({ db: store.db, dialect: store.dialect, directory: config.documents.directory, masterKey });
    return await use(documents, store);
  } finally {
    await store.close();
  }
}

/** Where the document stands, its times in +07:00 as the gateway answers them. */
function describeRetention(document: DocumentRecord, now: Date): string {
  if (document.destroyedAt) return `its content was destroyed at ${answeredInstant(document.destroyedAt)}`;
  if (document.retainUntil === null) return 'kept permanently';
  return new Date(document.retainUntil).getTime() <= now.getTime()
    ? `retention ended ${answeredInstant(document.retainUntil)}: purged by the next \`lienthong documents purge\``
    : `retained until ${answeredInstant(document.retainUntil)}`;
}

async function purge(args: string[], env: NodeJS.ProcessEnv, io: Output, now: Date): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { 'dry-run': { type: 'boolean', default: false }, config: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals.length > 0) throw new DocumentsUsageError(`documents purge takes no arguments besides options, got "${positionals.join(' ')}"`);
  const dryRun = values['dry-run'];
  return withDocuments(values.config, env, async (documents, store) => {
    const result = await purgeDue(documents, now, { dryRun });
    for (const code of result.destroyed) io.out(`${dryRun ? 'due' : 'destroyed'} ${code}`);
    for (const code of result.refused) io.err(`not destroyed ${code}: the store refused it (put on legal hold or destroyed meanwhile)`);
    const count = result.destroyed.length;
    io.out(
      dryRun
        ? `${store.location}: ${count} document${count === 1 ? '' : 's'} due for destruction; nothing destroyed (--dry-run)`
        : `${store.location}: destroyed the content of ${count} document${count === 1 ? '' : 's'} past retention; metadata, hashes and signatures are kept`,
    );
    return result.refused.length > 0 ? 1 : 0;
  });
}

async function hold(command: 'hold' | 'release', args: string[], env: NodeJS.ProcessEnv, io: Output, now: Date): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { config: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals.length !== 1) throw new DocumentsUsageError(`documents ${command} needs one document code`);
  const code = positionals[0]!;
  return withDocuments(values.config, env, async (documents, store) => {
    const updated = await documents.setLegalHold(code, command === 'hold');
    if (!updated) {
      io.err(`lienthong: ${store.location} holds no document ${code}`);
      return 1;
    }
    io.out(
      command === 'hold'
        ? `${code}: on legal hold; its content is kept until released (${describeRetention(updated, now)})`
        : `${code}: legal hold released; ${describeRetention(updated, now)}`,
    );
    return 0;
  });
}

/** Runs `lienthong documents ...`; returns the exit code. */
export async function runDocuments(args: string[], env: NodeJS.ProcessEnv, io: Output, now: Date = new Date()): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'purge':
      return purge(rest, env, io, now);
    case 'hold':
    case 'release':
      return hold(sub, rest, env, io, now);
    default:
      throw new DocumentsUsageError(`unknown documents command "${sub ?? ''}"`);
  }
}
