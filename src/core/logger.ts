/**
 * The logging the use cases need: structured entries at four levels and children carrying
 * bindings. The gateway's logger (pino) satisfies it; core does not depend on which one it is.
 */
export interface LogFn {
  (bindings: object, message?: string): void;
  (message: string): void;
}

export interface Logger {
  child(bindings: Record<string, unknown>): Logger;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}
