import type { Logger } from '../logging.ts';

/**
 * What a started gateway must undo, in the reverse order it was built: listeners first, the
 * store last. A failing step is logged and the others still run.
 */
export class Lifecycle {
  private readonly steps: (() => Promise<void> | void)[] = [];

  constructor(private readonly log: Logger) {}

  /** Registers how to undo what was just built. */
  defer(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  async close(): Promise<void> {
    for (const step of this.steps.reverse()) {
      try {
        await step();
      } catch (err) {
        this.log.warn({ err }, 'error while shutting down');
      }
    }
    this.steps.length = 0;
  }
}
