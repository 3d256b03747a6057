import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = new URL('../../', import.meta.url).pathname;

/** What the Dockerfile does, read from the Dockerfile itself so that the two cannot drift apart. */
export interface ImageRecipe {
  /** Each stage's base image (FROM), in order. */
  images: string[];
  /** Files copied into the dependency stage before the install. */
  installFiles: string[];
  /** The install command (`npm ci --omit=dev`). */
  install: string[];
  /** Files and folders copied from the build context into the final image. */
  copied: string[];
  /** The final image's environment (ENV). */
  env: Record<string, string>;
  /** The final image's command (CMD). */
  cmd: string[];
}

interface Instruction {
  op: string;
  args: string;
}

function instructions(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  const joined = text.replace(/\\\n/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') stages.push([]);
    stages.at(-1)?.push({ op: op.toUpperCase(), args });
  }
  return stages;
}

/** Context paths of the `COPY src... dest` instructions of a stage that copy from the build context. */
function contextCopies(stage: Instruction[]): string[] {
  return stage.filter((i) => i.op === 'COPY' && !i.args.includes('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
}

export function readImageRecipe(dockerfile = join(ROOT, 'Dockerfile')): ImageRecipe {
  const stages = instructions(readFileSync(dockerfile, 'utf8'));
  const final = stages.at(-1)!;
  const installStage = stages.find((s) => s.some((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args)));
  if (!installStage) throw new Error('the Dockerfile installs nothing with npm ci');
  const install = /\bnpm ci\b[^&;]*/.exec(installStage.find((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args))!.args)![0].trim().split(/\s+/);
  const env: Record<string, string> = {};
  for (const i of final.filter((x) => x.op === 'ENV')) {
    for (const [, k, v] of i.args.matchAll(/(\w+)=(\S+)/g)) env[k!] = v!;
  }
  const cmd = JSON.parse(final.find((i) => i.op === 'CMD')!.args) as string[];
  const images = stages.map((s) => s[0]!.args.split(/\s+/)[0]!);
  return { images, installFiles: contextCopies(installStage), install, copied: contextCopies(final), env, cmd };
}

/**
 * Lays out `dir` as the image's /app: the dependency stage's files, a fresh install with the
 * Dockerfile's own command (production dependencies only), then the files the final stage copies.
 * Nothing else of the repository is there (no certs-sample/, no config/, no dev dependencies).
 */
export function buildImageCopy(dir: string, recipe: ImageRecipe = readImageRecipe()): void {
  mkdirSync(dir, { recursive: true });
  for (const file of recipe.installFiles) cpSync(join(ROOT, file), join(dir, file), { recursive: true });
  const [command, ...args] = recipe.install;
  // A fresh install into the copy; the npm cache only saves downloads.
  execFileSync(command!, [...args, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000 });
  for (const path of recipe.copied) {
    if (recipe.installFiles.includes(path)) continue;
    cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  }
  mkdirSync(join(dir, 'data'), { recursive: true });
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every module the process loaded (file: URLs and node: builtins). */
  modules: string[];
  /** What `whileRunning` returned. */
  result: unknown;
}

/**
 * Runs the image's command in `dir` with only `env` (and PATH), recording the modules it loads.
 * `whileRunning`, when given, runs once the process answers `readyUrl`; then the process gets
 * SIGTERM. Without it the process is expected to stop by itself (a refused start).
 */
export async function runImageCommand(
  dir: string,
  recipe: ImageRecipe,
  env: Record<string, string>,
  options: { readyUrl?: string; whileRunning?: () => Promise<unknown>; timeoutMs?: number } = {},
): Promise<Run> {
  const modulesFile = join(dir, `modules-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  const recorder = `${pathToFileURL(join(ROOT, 'test/helpers/record-modules.mjs')).href}?out=${encodeURIComponent(modulesFile)}`;
  const [node, ...args] = recipe.cmd;
  if (node !== 'node') throw new Error(`the image's command does not start with node: ${recipe.cmd.join(' ')}`);
  const child = spawn(process.execPath, ['--import', recorder, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...recipe.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  let result: unknown;
  try {
    if (options.readyUrl) {
      let ready = false;
      while (!ready && child.exitCode === null && Date.now() < deadline) {
        ready = await fetch(options.readyUrl).then((r) => r.ok, () => false);
        if (!ready) await new Promise((r) => setTimeout(r, 200));
      }
      if (ready && options.whileRunning) result = await options.whileRunning();
      if (!ready && child.exitCode === null) stderr += `\n(no answer from ${options.readyUrl} in time)`;
      child.kill('SIGTERM');
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(1000, deadline - Date.now()));
    const code = await exited;
    clearTimeout(timer);
    let modules: string[] = [];
    try {
      modules = [...new Set(readFileSync(modulesFile, 'utf8').split('\n').filter(Boolean))];
    } catch {
      // The process died before loading anything.
    }
    return { code, stdout, stderr, modules, result };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
