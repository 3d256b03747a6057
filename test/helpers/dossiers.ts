import { readFileSync } from 'node:fs';
import { procedures } from '../../src/sandbox/personas.ts';

/** The contract's example dossier (also the dvcqg mapping tests' fixture). */
const EXAMPLE: unknown = JSON.parse(readFileSync(new URL('../../adapters/dvcqg/fixtures/dossier.json', import.meta.url), 'utf8'));

const DAY_MS = 86_400_000;
const VIETNAM_MS = 7 * 3_600_000;

/**
 * Day 0 of the dossier fixtures: ten days before today in Vietnam time, so that every instant a
 * fixture names (days 0 to 7) lies in the past whatever day the tests run.
 */
function dayZero(): number {
  const todayVietnam = Math.floor((Date.now() + VIETNAM_MS) / DAY_MS) * DAY_MS;
  return todayVietnam - 10 * DAY_MS;
}

/** The instant `time` (HH:MM or HH:MM:SS, Vietnam time) on fixture day `day`, as ISO 8601 with +07:00. */
export function fixtureAt(day: number, time: string): string {
  const [h = 0, m = 0, s = 0] = time.split(':').map(Number);
  const local = new Date(dayZero() + day * DAY_MS + ((h * 60 + m) * 60 + s) * 1000);
  return `${local.toISOString().slice(0, 19)}+07:00`;
}

/** Fixture day `day` as the YYMMDD of a dossier code. */
export function fixtureCodeDay(day = 0): string {
  return fixtureAt(day, '00:00').slice(2, 10).replaceAll('-', '');
}

/**
 * A dossier as a portal hands it over, with a code for day `day` (YYMMDD) and sequence `n`:
 * received on fixture day 0 (ten days ago) at 08:42 and due five days from today at 17:00, so it is
 * open and not overdue on any day the tests run.
 */
export function sampleDossier(n: number, overrides: Record<string, unknown> = {}, day = fixtureCodeDay()): Record<string, unknown> {
  const procedure = procedures[0]!;
  return {
    ...(structuredClone(EXAMPLE) as Record<string, unknown>),
    receivedAt: fixtureAt(0, '08:42:10'),
    dueAt: fixtureAt(15, '17:00'),
    code: `H52.101.114-${day}-${String(n).padStart(4, '0')}`,
    procedureCode: procedure.code,
    procedureName: procedure.name,
    field: { code: procedure.field.code, name: procedure.field.name },
    receiptNumber: `${String(n).padStart(4, '0')}/BN-TH`,
    ...overrides,
  };
}

/**
 * Gateway settings for tests that watch deliveries: the outbox polls and retries quickly, a
 * delivery still failing one second after it was queued is given up (dead), and the portal's
 * breaker never opens on the way.
 */
export const QUICK_OUTBOX = {
  'outbox.pollIntervalMs': 50,
  'outbox.backoffBaseMs': 20,
  'outbox.backoffMaxMs': 200,
  'outbox.maxAgeSeconds': 1,
  'upstreams.dvcqg.breaker.volumeThreshold': 100_000,
} as const;

export const statusEvent = (status: number, at: string, note?: string) => ({ kind: 'status', status, at, ...(note ? { note } : {}) });

export const progressEvent = (at: string, content = 'Thẩm định hồ sơ đăng ký hộ kinh doanh') => ({
  kind: 'progress',
  officer: 'Quàng Văn Minh',
  title: 'Chuyên viên',
  department: 'Phòng Kinh tế, Hạ tầng và Đô thị',
  content,
  startedAt: fixtureAt(0, '09:05'),
  dueAt: fixtureAt(1, '17:00'),
  at,
});

/** What the dvcqg simulator holds for one dossier (GET /sandbox/dossiers/{code}). */
export interface SimulatorDossier {
  code: string;
  status: string;
  sequences: number[];
  receivedAt: number[];
  duplicates: number;
  outOfOrder: number;
  held: { sequence: number; deliveryId: string; service: string; status: string; receivedAt: number }[];
  /** The dossier as the portal holds it (its wire fields). */
  item: Record<string, unknown>;
}

export interface SimulatorReport {
  totals: { dossiers: number; held: number; duplicates: number; outOfOrder: number };
  dossiers: Omit<SimulatorDossier, 'held'>[];
}

export async function simulatorDossier(dvcqgUrl: string, code: string): Promise<SimulatorDossier | undefined> {
  const res = await fetch(`${dvcqgUrl}/sandbox/dossiers/${encodeURIComponent(code)}`);
  if (res.status === 404) return undefined;
  return (await res.json()) as SimulatorDossier;
}

export async function simulatorReport(dvcqgUrl: string): Promise<SimulatorReport> {
  return (await (await fetch(`${dvcqgUrl}/sandbox/dossiers`)).json()) as SimulatorReport;
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
