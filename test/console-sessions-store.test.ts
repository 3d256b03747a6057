import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createSubjectHasher } from '../src/signing/attestation.ts';
import { createConsoleSessions, csrfTokenOf, type ConsoleSession, type ConsoleSessions } from '../src/store/console-sessions.ts';
import { openStore, type Store } from '../src/store/store.ts';
import { storeBackends } from './helpers/backends.ts';

/** The console's session store on SQLite and PostgreSQL, with a clock the test moves. */

const { backends, cleanup } = storeBackends('console session store');
afterAll(cleanup);

const hash = createSubjectHasher(Buffer.alloc(32, 7));
const IDLE = 900;
const MAX = 4 * 3600;
const KEY = 'sha256:02f23528a47a3706a621b814c3fcd39ff134eb8b101d8505bc2caea4c5ae8d23';
const OTHER_KEY = 'sha256:e44747cb531cc96e2695e1bbf2ce1d6f9527fa8ebef401935005887a56b50656';

for (const backend of backends) {
  describe.skipIf(backend.skip)(`console sessions on ${backend.name}`, () => {
    const open: Store[] = [];
    afterAll(async () => {
      await Promise.all(open.map((s) => s.close()));
    });

    async function fresh(maxLivePerClient?: number) {
      const store = await openStore(await backend.options());
      open.push(store);
      const clock = { now: Date.now() };
      const sessions = createConsoleSessions({ db: store.db, hashIdentifier: hash, idleSeconds: IDLE, maxSeconds: MAX, now: () => new Date(clock.now), ...(maxLivePerClient ? { maxLivePerClient } : {}) });
      return { store, clock, sessions };
    }

    /** The session a token opens now, failing the test when it opens none. */
    async function live(sessions: ConsoleSessions, token: string): Promise<ConsoleSession> {
      const used = await sessions.use(token);
      if (used === undefined || used === 'ended') throw new Error(`the session is ${String(used)}`);
      return used;
    }

    it('keeps the session under the hash of its token, the officer hashed and sealed, and gives it back for the token only', async () => {
      const { store, sessions } = await fresh();
      const { token, session } = await sessions.open('sandbox-auditor', 'thanhtra-0007', KEY);
      expect(session.id).toBe(createHash('sha256').update(token).digest('hex'));
      expect(session.csrfToken).toBe(csrfTokenOf(token));
      expect(session.csrfToken).not.toBe(token);
      const rows = await store.db.selectFrom('console_sessions').selectAll().execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ id: session.id, client_id: 'sandbox-auditor', user_hash: hash('user:thanhtra-0007'), key_fingerprint: sessions.keyFingerprint('sandbox-auditor', KEY), ended_at: null });
      for (const secret of [token, session.csrfToken, 'thanhtra-0007', KEY, KEY.slice(7)]) expect(JSON.stringify(rows)).not.toContain(secret);

      const used = await sessions.use(token);
      expect(used).toMatchObject({ id: session.id, clientId: 'sandbox-auditor', userId: 'thanhtra-0007', csrfToken: session.csrfToken });
      // Another token, or a changed one, opens nothing.
      expect(await sessions.use(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
      expect(await sessions.use('short')).toBeUndefined();
      // The sealed officer is bound to its session: moved to another row it does not open.
      const other = await sessions.open('sandbox-auditor', 'thanhtra-0008', KEY);
      await store.db.updateTable('console_sessions').set({ user_sealed: rows[0]!.user_sealed }).where('id', '=', other.session.id).execute();
      expect(await sessions.use(other.token)).toBeUndefined();
    });

    it('slides the idle expiry with each use, never past the absolute expiry', async () => {
      const { sessions, clock } = await fresh();
      const started = clock.now;
      const { token, session } = await sessions.open('sandbox-operator', 'vanhanh-0001', KEY);
      expect(session.idleExpiresAt.getTime()).toBe(started + IDLE * 1000);
      expect(session.expiresAt.getTime()).toBe(started + MAX * 1000);
      // Used every 10 minutes, it lives until its absolute expiry and not a moment longer.
      let last = session;
      for (clock.now = started + 600_000; clock.now < started + MAX * 1000; clock.now += 600_000) {
        const used = await live(sessions, token);
        expect(used.idleExpiresAt.getTime(), `at +${(clock.now - started) / 1000} s`).toBe(Math.min(clock.now + IDLE * 1000, started + MAX * 1000));
        last = used;
      }
      expect(last.idleExpiresAt.getTime()).toBe(started + MAX * 1000);
      clock.now = started + MAX * 1000;
      expect(await sessions.use(token)).toBe('ended');
    });

    it('ends a session idle too long, or signed out, tells it from a token never issued, and purges it once past its absolute expiry', async () => {
      const { store, sessions, clock } = await fresh();
      const idle = await sessions.open('sandbox-auditor', 'thanhtra-0010', KEY);
      const signedOut = await sessions.open('sandbox-auditor', 'thanhtra-0011', KEY);
      const kept = await sessions.open('sandbox-auditor', 'thanhtra-0012', KEY);
      expect(await sessions.end(signedOut.session.id)).toBe(true);
      expect(await sessions.end(signedOut.session.id)).toBe(false);
      expect(await sessions.use(signedOut.token)).toBe('ended');

      clock.now += (IDLE - 1) * 1000;
      await live(sessions, kept.token);
      clock.now += 1000;
      expect(await sessions.use(idle.token)).toBe('ended');
      // Ended is not unknown: the browser may send an ended session's cookie until its Max-Age.
      expect(await sessions.purge()).toBe(0);
      expect(await sessions.use(signedOut.token)).toBe('ended');
      expect(await sessions.use('A'.repeat(43))).toBeUndefined();

      // Past the absolute expiry of the first three, while a later one lives on.
      const later = await sessions.open('sandbox-auditor', 'thanhtra-0013', KEY);
      clock.now = Date.parse(signedOut.session.expiresAt.toISOString());
      expect(await sessions.purge()).toBe(3);
      const left = await store.db.selectFrom('console_sessions').select('id').execute();
      expect(left.map((r) => r.id)).toEqual([later.session.id]);
      expect(await sessions.use(idle.token)).toBeUndefined();
      // Idle by now, and still told from a token never issued until its own absolute expiry.
      expect(await sessions.use(later.token)).toBe('ended');
    });

    it("fingerprints the client's key: the same key gives the same fingerprint, another key or client another", async () => {
      const { sessions } = await fresh();
      const { token } = await sessions.open('sandbox-auditor', 'thanhtra-0020', KEY);
      const used = await live(sessions, token);
      expect(used.keyFingerprint).toBe(sessions.keyFingerprint('sandbox-auditor', KEY));
      expect(used.keyFingerprint).not.toBe(sessions.keyFingerprint('sandbox-auditor', OTHER_KEY));
      expect(used.keyFingerprint).not.toBe(sessions.keyFingerprint('sandbox-auditor', undefined));
      expect(used.keyFingerprint).not.toBe(sessions.keyFingerprint('sandbox-operator', KEY));
    });

    it("keeps at most maxLivePerClient live sessions per client, ending the client's oldest", async () => {
      const { sessions, clock } = await fresh(3);
      const opened = [];
      for (let i = 0; i < 5; i++) {
        opened.push(await sessions.open('sandbox-auditor', `thanhtra-003${i}`, KEY));
        clock.now += 1000;
      }
      const other = await sessions.open('sandbox-operator', 'vanhanh-0030', OTHER_KEY);
      const states = await Promise.all(opened.map(async (o) => ((await sessions.use(o.token)) === 'ended' ? 'ended' : 'live')));
      expect(states).toEqual(['ended', 'ended', 'live', 'live', 'live']);
      // Another client's sessions are not counted with these.
      await live(sessions, other.token);
    });
  });
}
