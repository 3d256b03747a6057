import { readFileSync } from 'node:fs';
import { procedures } from '../../src/sandbox/personas.ts';

/** The contract's example dossier (also the dvcqg mapping tests' fixture). */
const EXAMPLE: unknown = JSON.parse(readFileSync(new URL('../../adapters/dvcqg/fixtures/dossier.json', import.meta.url), 'utf8'));

/** A dossier as a portal hands it over, with a code for day `day` (YYMMDD) and sequence `n`. */
export function sampleDossier(n: number, overrides: Record<string, unknown> = {}, day = '261127'): Record<string, unknown> {
  const procedure = procedures[0]!;
  return {
    ...(structuredClone(EXAMPLE) as Record<string, unknown>),
    code: `H52.101.114-${day}-${String(n).padStart(4, '0')}`,
    procedureCode: procedure.code,
    procedureName: procedure.name,
    field: { code: procedure.field.code, name: procedure.field.name },
    receiptNumber: `${String(n).padStart(4, '0')}/BN-TH`,
    ...overrides,
  };
}

export const statusEvent = (status: number, at: string, note?: string) => ({ kind: 'status', status, at, ...(note ? { note } : {}) });

export const progressEvent = (at: string, content = 'Thẩm định hồ sơ đăng ký hộ kinh doanh') => ({
  kind: 'progress',
  officer: 'Quàng Văn Minh',
  title: 'Chuyên viên',
  department: 'Phòng Kinh tế, Hạ tầng và Đô thị',
  content,
  startedAt: '2026-11-27T09:05:00+07:00',
  dueAt: '2026-11-28T17:00:00+07:00',
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
