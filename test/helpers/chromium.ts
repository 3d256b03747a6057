import { accessSync, constants } from 'node:fs';

/**
 * The Chromium the browser tests drive: CHROMIUM_PATH when set, else Debian's package. Debian's
 * /usr/bin/chromium is a shell wrapper that adds flags from /etc/chromium.d; Playwright needs the
 * real binary it runs, /usr/lib/chromium/chromium, so that one is preferred.
 */
const CANDIDATES = ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium-browser/chromium-browser'];

export interface FoundChromium {
  executablePath: string | null;
  /** Why none was found, for the skip message. */
  reason: string;
}

export function findChromium(env: Record<string, string | undefined> = process.env): FoundChromium {
  const wanted = env.CHROMIUM_PATH ? [env.CHROMIUM_PATH] : CANDIDATES;
  for (const path of wanted) {
    try {
      accessSync(path, constants.X_OK);
      return { executablePath: path, reason: '' };
    } catch {
      // Try the next one.
    }
  }
  return { executablePath: null, reason: `no Chromium found (looked for ${wanted.join(', ')}; install Debian's chromium package or set CHROMIUM_PATH)` };
}

/** Flags for a headless Chromium in a container: no sandbox as root (it refuses to start otherwise), no GPU. */
export function chromiumArgs(): string[] {
  const args = ['--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'];
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--no-sandbox');
  return args;
}
