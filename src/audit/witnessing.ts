/**
 * The gateway's side of witnessing (c2sp.org/tlog-witness): after each new checkpoint, submit
 * its signed note to every configured witness with a consistency proof from the last size that
 * witness cosigned, verify the cosignature it returns with its key and store it beside the
 * checkpoint. Failures are logged and counted; they never hold up the integrator or requests.
 */
import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Logger } from '../logging.ts';
import type { Database } from '../store/schema.ts';
import { NoteError, parseWitnessKey, splitNote, verifyCosignature, type WitnessKey } from './note.ts';
import type { AuditStore, CheckpointRecord } from './store.ts';

export interface WitnessTarget {
  /** The witness's URL prefix: add-checkpoint is POSTed to `${url}/add-checkpoint`. */
  url: string;
  key: WitnessKey;
  timeoutMs: number;
}

export type WitnessOutcome = 'cosigned' | 'conflict' | 'rejected' | 'invalid' | 'unreachable';

export interface WitnessingDeps {
  db: Kysely<Database>;
  store: Pick<AuditStore, 'latestCheckpoint' | 'latestTimestampedCheckpoint' | 'consistencyProof'>;
  log: Logger;
  onOutcome?: ((witness: string, outcome: WitnessOutcome) => void) | undefined;
  onLag?: ((witness: string, entries: number) => void) | undefined;
  fetch?: typeof fetch | undefined;
}

export interface Witnessing {
  /** Submits the latest checkpoint soon (never waits; a run in progress is followed by another). */
  notify(): void;
  /** Submits the latest checkpoint to every witness that has not cosigned it; resolves when done. */
  runOnce(): Promise<void>;
  /** Retries witnesses that failed every `retryMs`. */
  start(): void;
  stop(): Promise<void>;
}

/** A vkey given inline, or the path of a file holding one. */
export function loadWitnessKey(vkeyOrFile: string): WitnessKey {
  const value = vkeyOrFile.includes('+') ? vkeyOrFile : readFileSync(vkeyOrFile, 'utf8');
  return parseWitnessKey(value);
}

class Conflict extends Error {}

/**
 * `timestampedOnly`: submit only checkpoints the TSA has timestamped (set when the gateway takes
 * timestamps). Exports end at the newest timestamped checkpoint, so the checkpoint a witness keeps
 * is then one an export can end at: an auditor compares like with like, and the bundle's newest
 * checkpoint carries the witnesses' cosignatures.
 */
export function createWitnessing(deps: WitnessingDeps, witnesses: readonly WitnessTarget[], options: { retryMs?: number; timestampedOnly?: boolean } = {}): Witnessing {
  const doFetch = deps.fetch ?? fetch;
  const retryMs = options.retryMs ?? 30_000;
  /** Per witness: the size it last cosigned, as far as the gateway knows (undefined: read from the store first). */
  const known = new Map<string, number | undefined>();
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;

  async function knownSize(witness: string): Promise<number> {
    const cached = known.get(witness);
    if (cached !== undefined) return cached;
    const row = await deps.db
      .selectFrom('checkpoint_cosignatures')
      .select((eb) => eb.fn.max('tree_size').as('size'))
      .where('witness', '=', witness)
      .executeTakeFirst();
    const size = row?.size == null ? 0 : Number(row.size);
    known.set(witness, size);
    return size;
  }

  async function post(target: WitnessTarget, body: string): Promise<{ status: number; type: string; text: string }> {
    const res = await doFetch(`${target.url.replace(/\/+$/, '')}/add-checkpoint`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body,
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    // A witness answers with a few lines: anything much longer is not worth reading.
    const text = (await res.text()).slice(0, 16 * 1024);
    return { status: res.status, type: res.headers.get('content-type') ?? '', text };
  }

  async function submitTo(target: WitnessTarget, checkpoint: CheckpointRecord & { note: string }): Promise<WitnessOutcome> {
    const name = target.key.name;
    const text = checkpoint.body;
    let old = await knownSize(name);
    for (let attempt = 0; ; attempt++) {
      if (old > checkpoint.treeSize) throw new Conflict(`the witness has cosigned size ${old}, beyond the log's ${checkpoint.treeSize}`);
      const proof = old === 0 || old === checkpoint.treeSize ? [] : (await deps.store.consistencyProof(old, checkpoint.treeSize)).proof;
      const answer = await post(target, `old ${old}\n${proof.map((p) => `${p.toString('base64')}\n`).join('')}\n${checkpoint.note}`);
      if (answer.status === 409 && answer.type.split(';')[0]!.trim() === 'text/x.tlog.size') {
        const size = /^(0|[1-9][0-9]{0,15})\n?$/.exec(answer.text)?.[1];
        if (size === undefined) return fail(target, 'rejected', `a 409 answer without a size: ${answer.text.slice(0, 200)}`);
        known.set(name, Number(size));
        if (attempt > 0 || Number(size) === old) return fail(target, 'rejected', `the witness insists on size ${size}`);
        old = Number(size);
        continue;
      }
      if (answer.status === 409) throw new Conflict(`the witness holds another checkpoint of size ${checkpoint.treeSize}: ${answer.text.slice(0, 200)}`);
      if (answer.status !== 200) return fail(target, 'rejected', `HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
      let lines;
      try {
        lines = splitNote(`${text}\n${answer.text}`).signatures;
      } catch (err) {
        if (err instanceof NoteError) return fail(target, 'invalid', `the answer is not signature lines: ${err.message}`);
        throw err;
      }
      // Lines by other keys are ignored; one by the witness's key must verify.
      const valid = lines.map((line) => ({ line, result: verifyCosignature(text, line, target.key) })).filter((v) => v.result !== undefined);
      if (valid.length === 0) return fail(target, 'invalid', 'no cosignature in the answer verifies with the witness key');
      const { line, result } = valid[valid.length - 1]!;
      await deps.db
        .insertInto('checkpoint_cosignatures')
        .values({ tree_size: checkpoint.treeSize, witness: name, time: result!.time, line: line.line, received_at: new Date().toISOString() })
        .onConflict((oc) => oc.columns(['tree_size', 'witness']).doUpdateSet({ time: result!.time, line: line.line, received_at: new Date().toISOString() }))
        .execute();
      known.set(name, checkpoint.treeSize);
      deps.log.debug({ witness: name, treeSize: checkpoint.treeSize }, 'checkpoint cosigned');
      return 'cosigned';
    }
  }

  function fail(target: WitnessTarget, outcome: WitnessOutcome, reason: string): WitnessOutcome {
    deps.log.warn({ witness: target.key.name, url: target.url, outcome, reason }, 'witness did not cosign the checkpoint');
    return outcome;
  }

  async function submit(target: WitnessTarget, checkpoint: CheckpointRecord & { note: string }): Promise<void> {
    const name = target.key.name;
    let outcome: WitnessOutcome;
    try {
      outcome = await submitTo(target, checkpoint);
    } catch (err) {
      if (err instanceof Conflict) {
        // A witness that saw another history is the alarm witnessing exists for.
        deps.log.error({ witness: name, url: target.url, treeSize: checkpoint.treeSize, reason: err.message }, 'witness refused the checkpoint as inconsistent with what it cosigned');
        outcome = 'conflict';
      } else {
        outcome = fail(target, 'unreachable', (err as Error).message);
        known.delete(name);
      }
    }
    deps.onOutcome?.(name, outcome);
    const size = known.get(name);
    if (size !== undefined) deps.onLag?.(name, Math.max(0, checkpoint.treeSize - size));
  }

  async function run(): Promise<void> {
    const checkpoint = await (options.timestampedOnly ? deps.store.latestTimestampedCheckpoint() : deps.store.latestCheckpoint());
    if (!checkpoint || checkpoint.note === null) return;
    const note = splitNote(checkpoint.note);
    // Submitted with the log's signature only: the cosignatures are not the witness's business.
    const own = note.signatures.filter((s) => s.name === checkpoint.origin);
    const submitted = { ...checkpoint, note: `${note.text}\n${own.map((s) => s.line).join('')}` };
    await Promise.all(
      witnesses.map(async (target) => {
        if ((await knownSize(target.key.name)) === checkpoint.treeSize) return deps.onLag?.(target.key.name, 0);
        await submit(target, submitted);
      }),
    );
  }

  function runOnce(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await run().catch((err: unknown) => deps.log.error({ err }, 'witnessing failed'));
        } while (again);
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  function schedule(): void {
    if (stopped || witnesses.length === 0) return;
    timer = setTimeout(() => void runOnce().finally(schedule), retryMs);
    timer.unref();
  }

  return {
    notify: () => {
      if (witnesses.length > 0) void runOnce();
    },
    runOnce,
    start() {
      stopped = false;
      if (witnesses.length === 0) return;
      void runOnce();
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
