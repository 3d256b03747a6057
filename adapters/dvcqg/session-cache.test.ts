import { describe, expect, it } from 'vitest';
import { createSessionCache } from './session-cache.ts';

/** A login the test finishes by hand, recording the signal it was given. */
function manualLogin() {
  const calls: { signal: AbortSignal; resolve(session: string): void; reject(err: Error): void }[] = [];
  const login = (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      calls.push({ signal, resolve, reject });
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
  return { login, calls };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('session cache', () => {
  it('runs one login for concurrent callers and caches its session', async () => {
    const { login, calls } = manualLogin();
    const cache = createSessionCache(login);
    const waiting = [cache.get(new AbortController().signal), cache.get(new AbortController().signal), cache.get(new AbortController().signal)];
    expect(calls).toHaveLength(1);
    calls[0]!.resolve('s1');
    expect(await Promise.all(waiting)).toEqual(['s1', 's1', 's1']);
    expect(await cache.get(new AbortController().signal)).toBe('s1');
    expect(calls).toHaveLength(1);
  });

  it('lets one caller give up without failing the others or abandoning the login', async () => {
    const { login, calls } = manualLogin();
    const cache = createSessionCache(login);
    const leaving = new AbortController();
    const left = cache.get(leaving.signal);
    const staying = cache.get(new AbortController().signal);
    leaving.abort(new Error('caller hung up'));
    await expect(left).rejects.toThrow('caller hung up');
    expect(calls[0]!.signal.aborted).toBe(false);
    calls[0]!.resolve('s1');
    expect(await staying).toBe('s1');
  });

  it('abandons the login when every caller has given up, and starts afresh for the next one', async () => {
    const { login, calls } = manualLogin();
    const cache = createSessionCache(login);
    const controller = new AbortController();
    const call = cache.get(controller.signal);
    controller.abort(new Error('timeout'));
    await expect(call).rejects.toThrow('timeout');
    expect(calls[0]!.signal.aborted).toBe(true);

    const next = cache.get(new AbortController().signal);
    expect(calls).toHaveLength(2);
    calls[1]!.resolve('s2');
    expect(await next).toBe('s2');
  });

  it('does not cache a failed login', async () => {
    const { login, calls } = manualLogin();
    const cache = createSessionCache(login);
    const call = cache.get(new AbortController().signal);
    calls[0]!.reject(new Error('refused'));
    await expect(call).rejects.toThrow('refused');
    expect(cache.has()).toBe(false);
    void cache.get(new AbortController().signal).catch(() => undefined);
    expect(calls).toHaveLength(2);
  });

  it('forgets only the session it is told about, so a stale caller does not drop a fresh session', async () => {
    const { login, calls } = manualLogin();
    const cache = createSessionCache(login);
    const call = cache.get(new AbortController().signal);
    calls[0]!.resolve('s1');
    await call;
    cache.invalidate('s1');
    const renewed = cache.get(new AbortController().signal);
    calls[1]!.resolve('s2');
    expect(await renewed).toBe('s2');
    cache.invalidate('s1');
    expect(cache.has()).toBe(true);
    await tick();
    expect(await cache.get(new AbortController().signal)).toBe('s2');
    expect(calls).toHaveLength(2);
  });

  it('refuses at once when the caller has already given up', async () => {
    const { login, calls } = manualLogin();
    const cache = createSessionCache(login);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(cache.get(controller.signal)).rejects.toThrow('gone');
    expect(calls).toHaveLength(0);
  });
});
