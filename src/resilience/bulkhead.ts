import { GatewayError } from '../errors/gateway-error.ts';

export interface BulkheadLimits {
  maxInFlight: number;
  /** Calls that may wait for a slot; beyond that a call is refused at once. */
  maxQueued: number;
  /** The longest a call may wait for a slot. */
  queueTimeoutMs: number;
}

/** Gives back the slot; calling it twice gives back one slot only. */
export type Release = () => void;

/**
 * Bounded concurrency for one national system: at most `maxInFlight` calls under way, at most
 * `maxQueued` waiting (first come, first served), each waiting at most `queueTimeoutMs`. A slow
 * system then holds a bounded share of the process, whatever the load.
 */
export interface Bulkhead {
  /** Resolves with a release once a slot is free; rejects with UPSTREAM_BUSY, or with the signal's reason. */
  acquire(signal: AbortSignal): Promise<Release>;
  readonly inFlight: number;
  readonly queued: number;
  readonly limits: BulkheadLimits;
}

interface Waiter {
  grant(release: Release): void;
}

export function createBulkhead(name: string, limits: BulkheadLimits, options: { retryAfterSeconds: number }): Bulkhead {
  let inFlight = 0;
  const queue: Waiter[] = [];

  const busy = (detail: string) => new GatewayError('UPSTREAM_BUSY', { detail, retryAfter: options.retryAfterSeconds });

  function slot(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = queue.shift();
      // The slot passes straight to the longest waiter, so a burst cannot overtake the queue.
      if (next) next.grant(slot());
      else inFlight--;
    };
  }

  function acquire(signal: AbortSignal): Promise<Release> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    if (inFlight < limits.maxInFlight) {
      inFlight++;
      return Promise.resolve(slot());
    }
    if (queue.length >= limits.maxQueued) {
      return Promise.reject(busy(`${name} already has ${inFlight} calls under way and ${queue.length} waiting`));
    }
    return new Promise<Release>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const at = queue.indexOf(waiter);
        if (at >= 0) queue.splice(at, 1);
      };
      const waiter: Waiter = {
        grant: (release) => {
          leave();
          resolve(release);
        },
      };
      const onAbort = () => {
        leave();
        reject(signal.reason as Error);
      };
      const timer = setTimeout(() => {
        leave();
        reject(busy(`${name} had no free slot within ${limits.queueTimeoutMs} ms (${inFlight} calls under way)`));
      }, limits.queueTimeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
    });
  }

  return {
    acquire,
    get inFlight() {
      return inFlight;
    },
    get queued() {
      return queue.length;
    },
    limits,
  };
}
