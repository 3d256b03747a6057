/**
 * A witness of exchange logs (c2sp.org/tlog-witness): what an inspectorate runs so that the
 * gateway cannot show it one history and an auditor another, nor cut its history back. It
 * accepts a log's new checkpoint only with a consistency proof from the last checkpoint it
 * cosigned for that log, remembers that checkpoint (one file per log, written before it answers)
 * and returns a cosignature (c2sp.org/tlog-cosignature, cosignature/v1).
 */
import { randomBytes, type KeyObject, type X509Certificate } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { listen, type Listening } from '../http/listen.ts';
import type { Logger } from '../logging.ts';
import { verifyConsistency } from './merkle.ts';
import { NoteError, cosign, logNoteVerifier, parseCheckpointText, splitNote, witnessVkey, type NoteSignature } from './note.ts';

/** A log the witness follows: its origin and the public key (or certificate) of its note signer. */
export interface WitnessedLog {
  origin: string;
  key: KeyObject | X509Certificate;
}

export interface WitnessOptions {
  /** The witness's key name, e.g. thanhtra.sonla.gov.vn/witness. */
  name: string;
  /** Ed25519 private key. */
  privateKey: KeyObject;
  logs: readonly WitnessedLog[];
  /** Directory holding the latest cosigned checkpoint of each log. */
  stateDir: string;
  log?: Logger | undefined;
  /** Milliseconds since the epoch; the cosignature time. */
  now?: (() => number) | undefined;
}

export interface WitnessAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** The latest checkpoint the witness cosigned for a log. */
export interface WitnessState {
  treeSize: number;
  rootHash: Buffer;
  /** The saved signed note: checkpoint text, blank line, the log's signature(s), this witness's cosignature. */
  note: string;
}

export interface Witness {
  name: string;
  /** The witness's verifier key (C2SP vkey, cosignature/v1). */
  vkey: string;
  /** Handles an add-checkpoint request body. */
  addCheckpoint(body: string): Promise<WitnessAnswer>;
  /** The latest cosigned checkpoint of `origin`, if any. */
  latest(origin: string): Promise<WitnessState | undefined>;
  /** POST /add-checkpoint. */
  handler: RequestListener;
}

/** At most this many consistency proof lines (tlog-witness). */
export const MAX_PROOF_LINES = 63;
/** Request bodies above this size are refused: a proof and a checkpoint with its signatures fit easily. */
export const MAX_REQUEST_BYTES = 64 * 1024;
export const TLOG_SIZE_TYPE = 'text/x.tlog.size';

/** The file holding the latest cosigned checkpoint of `origin` in the state directory. */
export function witnessStateFile(stateDir: string, origin: string): string {
  return join(stateDir, `${encodeURIComponent(origin)}.checkpoint`);
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly contentType = 'text/plain; charset=utf-8',
  ) {
    super(message);
  }
}

interface Request {
  oldSize: number;
  proof: Buffer[];
  note: string;
}

function parseRequest(body: string): Request {
  let rest = body;
  const line = (): string => {
    const end = rest.indexOf('\n');
    if (end < 0) throw new Refusal(400, 'the request ends before the blank line that precedes the checkpoint');
    const text = rest.slice(0, end);
    rest = rest.slice(end + 1);
    return text;
  };
  const old = /^old (0|[1-9][0-9]{0,15})$/.exec(line());
  if (!old || !Number.isSafeInteger(Number(old[1]))) throw new Refusal(400, 'the first line is not "old <size>"');
  const proof: Buffer[] = [];
  for (let text = line(); text !== ''; text = line()) {
    if (proof.length === MAX_PROOF_LINES) throw new Refusal(400, `more than ${MAX_PROOF_LINES} consistency proof lines`);
    const hash = Buffer.from(text, 'base64');
    if (hash.length !== 32 || hash.toString('base64') !== text) throw new Refusal(400, `proof line ${proof.length + 1} is not base64 of a 32-byte hash`);
    proof.push(hash);
  }
  return { oldSize: Number(old[1]), proof, note: rest };
}

async function writeAtomically(file: string, content: string): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(tmp, 'wx', 0o644);
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export function createWitness(options: WitnessOptions): Witness {
  const now = options.now ?? Date.now;
  const vkey = witnessVkey(options.name, options.privateKey);
  const verifiers = new Map(options.logs.map((l) => [l.origin, logNoteVerifier(l.origin, l.key)]));
  mkdirSync(options.stateDir, { recursive: true });
  const states = new Map<string, WitnessState | undefined>();
  const queues = new Map<string, Promise<unknown>>();

  async function latest(origin: string): Promise<WitnessState | undefined> {
    if (states.has(origin)) return states.get(origin);
    let note: string;
    try {
      note = await readFile(witnessStateFile(options.stateDir, origin), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      states.set(origin, undefined);
      return undefined;
    }
    // A state file that does not parse stops the witness for that log rather than resetting it.
    const checkpoint = parseCheckpointText(splitNote(note).text);
    if (checkpoint.origin !== origin) throw new Error(`${witnessStateFile(options.stateDir, origin)} holds a checkpoint of ${checkpoint.origin}`);
    const state = { treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash, note };
    states.set(origin, state);
    return state;
  }

  /** Runs `task` after every earlier task of the same log: the check and the update are one step. */
  function serialised<T>(origin: string, task: () => Promise<T>): Promise<T> {
    const next = (queues.get(origin) ?? Promise.resolve()).then(task, task);
    queues.set(
      origin,
      next.catch(() => undefined),
    );
    return next;
  }

  async function addCheckpoint(body: string): Promise<WitnessAnswer> {
    try {
      const request = parseRequest(body);
      let text: string;
      let signatures: NoteSignature[];
      let checkpoint;
      try {
        ({ text, signatures } = splitNote(request.note));
        checkpoint = parseCheckpointText(text);
      } catch (err) {
        if (err instanceof NoteError) throw new Refusal(400, err.message);
        throw err;
      }
      const verifier = verifiers.get(checkpoint.origin);
      if (!verifier) throw new Refusal(404, `unknown log ${checkpoint.origin}`);
      // Signatures by other keys are ignored; one by the log's key that fails spoils the note.
      const known = signatures.filter((s) => s.name === verifier.name && s.keyId.equals(verifier.keyId));
      if (known.length === 0 || !known.every((s) => verifier.verify(text, s))) throw new Refusal(403, `the checkpoint carries no valid signature by the key of ${checkpoint.origin}`);
      if (request.oldSize > checkpoint.treeSize) throw new Refusal(400, `old size ${request.oldSize} is larger than the checkpoint size ${checkpoint.treeSize}`);
      const treeSize = checkpoint.treeSize;
      const rootHash = checkpoint.rootHash;
      const origin = checkpoint.origin;

      return await serialised(origin, async () => {
        const state = await latest(origin);
        const latestSize = state?.treeSize ?? 0;
        if (request.oldSize !== latestSize) throw new Refusal(409, `${latestSize}\n`, TLOG_SIZE_TYPE);
        if (state && treeSize === state.treeSize && !rootHash.equals(state.rootHash)) {
          options.log?.warn({ origin, treeSize, root: rootHash.toString('base64'), cosigned: state.rootHash.toString('base64') }, 'the log shows another root for a size already cosigned');
          throw new Refusal(409, `the checkpoint of size ${treeSize} has another root than the one cosigned`);
        }
        const consistent =
          request.oldSize === 0 ? request.proof.length === 0 : verifyConsistency(request.oldSize, treeSize, state!.rootHash, rootHash, request.proof);
        if (!consistent) {
          options.log?.warn({ origin, oldSize: request.oldSize, treeSize, root: rootHash.toString('base64') }, 'a checkpoint is not consistent with the one cosigned');
          throw new Refusal(422, `the consistency proof from ${request.oldSize} to ${treeSize} does not verify`);
        }
        const line = cosign(text, options.name, options.privateKey, Math.floor(now() / 1000));
        const note = `${text}\n${known.map((s) => s.line).join('')}${line}`;
        await writeAtomically(witnessStateFile(options.stateDir, origin), note);
        states.set(origin, { treeSize, rootHash, note });
        if (treeSize !== latestSize) options.log?.info({ origin, treeSize }, 'checkpoint cosigned');
        return { status: 200, contentType: 'text/plain; charset=utf-8', body: line };
      });
    } catch (err) {
      if (err instanceof Refusal) return { status: err.status, contentType: err.contentType, body: err.message.endsWith('\n') ? err.message : `${err.message}\n` };
      throw err;
    }
  }

  function readBody(req: IncomingMessage): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > MAX_REQUEST_BYTES) return resolve(undefined);
      let size = 0;
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REQUEST_BYTES) {
          resolve(undefined);
          req.pause();
        } else chunks.push(chunk);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  function send(res: ServerResponse, answer: WitnessAnswer, extra: Record<string, string> = {}): void {
    res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': Buffer.byteLength(answer.body), ...extra }).end(answer.body);
  }

  const handler: RequestListener = (req, res) => {
    const path = new URL(req.url ?? '/', 'http://witness').pathname;
    if (path !== '/add-checkpoint') return send(res, { status: 404, contentType: 'text/plain; charset=utf-8', body: 'not found\n' });
    if (req.method !== 'POST') return send(res, { status: 405, contentType: 'text/plain; charset=utf-8', body: 'use POST\n' }, { allow: 'POST' });
    void (async () => {
      const body = await readBody(req);
      if (body === undefined) return send(res, { status: 413, contentType: 'text/plain; charset=utf-8', body: `the request is larger than ${MAX_REQUEST_BYTES} bytes\n` }, { connection: 'close' });
      // Bytes that are not UTF-8 decode to U+FFFD, which no checkpoint of a known log contains.
      send(res, await addCheckpoint(body));
    })().catch((err: unknown) => {
      options.log?.error({ err }, 'witness request failed');
      if (!res.headersSent) send(res, { status: 500, contentType: 'text/plain; charset=utf-8', body: 'the witness failed\n' });
      else res.destroy();
    });
  };

  return { name: options.name, vkey, addCheckpoint, latest, handler };
}

/** Creates a witness and serves it on host:port (port 0: any free port). */
export async function startWitness(options: WitnessOptions & { host: string; port: number }): Promise<{ witness: Witness; server: Listening }> {
  const witness = createWitness(options);
  const server = await listen(witness.handler, options.host, options.port);
  return { witness, server };
}
