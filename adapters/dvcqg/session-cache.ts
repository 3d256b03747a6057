/**
 * The portal session the gateway shares between all its calls. At most one login is in flight:
 * concurrent callers wait on the same one. Each caller stops waiting when its own signal aborts;
 * the login itself is abandoned only when every caller waiting on it has gone, so one caller
 * hanging up does not fail the others.
 */
export interface SessionCache {
  /** The cached session, or the result of the login in flight, or of a new login. */
  get(signal: AbortSignal): Promise<string>;
  /** Forgets `session` if it is still the cached one (a caller may already have replaced it). */
  invalidate(session: string): void;
  /** Whether a session is cached (for health and tests). */
  has(): boolean;
}

interface PendingLogin {
  promise: Promise<string>;
  controller: AbortController;
  waiters: number;
}

export function createSessionCache(login: (signal: AbortSignal) => Promise<string>): SessionCache {
  let current: string | undefined;
  let pending: PendingLogin | undefined;

  function start(): PendingLogin {
    const controller = new AbortController();
    const entry: PendingLogin = { controller, waiters: 0, promise: Promise.resolve('') };
    entry.promise = login(controller.signal)
      .then((session) => {
        if (pending === entry) current = session;
        return session;
      })
      .finally(() => {
        if (pending === entry) pending = undefined;
      });
    // Waiters handle the outcome; a login nobody waits for any more must not surface as unhandled.
    entry.promise.catch(() => undefined);
    pending = entry;
    return entry;
  }

  async function get(signal: AbortSignal): Promise<string> {
    if (current !== undefined) return current;
    signal.throwIfAborted();
    const entry = pending ?? start();
    entry.waiters++;
    let onAbort: (() => void) | undefined;
    try {
      return await new Promise<string>((resolve, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        entry.promise.then(resolve, reject);
      });
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
      entry.waiters--;
      if (entry.waiters === 0 && pending === entry) {
        pending = undefined;
        entry.controller.abort(new Error('every caller waiting for this login gave up'));
      }
    }
  }

  return {
    get,
    invalidate(session) {
      if (current === session) current = undefined;
    },
    has: () => current !== undefined,
  };
}
