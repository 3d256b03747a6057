import { describe, expect, it } from 'vitest';
import { CSV_BOM, GROUPS, INDICATORS, NOT_COMPUTED, ZERO_COUNTS, groupTotals, indicatorFigures, points, rate, serviceIndexCsv, serviceIndexReport } from './service-index.ts';

const linear = { maxPoints: 6, scoring: { kind: 'linear' as const } };
const threshold80 = { maxPoints: 2, scoring: { kind: 'threshold' as const, threshold: 0.8 } };

describe('service index scoring', () => {
  it('rates to 4 decimals, null without dossiers', () => {
    expect(rate(1, 3)).toBe(0.3333);
    expect(rate(2, 3)).toBe(0.6667);
    expect(rate(0, 5)).toBe(0);
    expect(rate(0, 0)).toBeNull();
  });

  it('gives linear points in proportion to the rate', () => {
    expect(points(linear, 1, 2)).toBe(3);
    expect(points(linear, 1, 3)).toBe(2);
    expect(points(linear, 3, 3)).toBe(6);
    expect(points({ maxPoints: 20, scoring: { kind: 'linear' } }, 4, 9)).toBe(8.89);
  });

  it('gives full points from the threshold up, in proportion below it', () => {
    expect(points(threshold80, 8, 10)).toBe(2);
    expect(points(threshold80, 9, 10)).toBe(2);
    expect(points(threshold80, 4, 10)).toBe(1);
    // From the counts, not the rounded rate: 2/3 ÷ 0.8 × 2 = 1.6667.
    expect(points(threshold80, 2, 3)).toBe(1.67);
    expect(points({ maxPoints: 6, scoring: { kind: 'threshold', threshold: 0.5 } }, 1, 4)).toBe(3);
  });

  it('gives 0 points without dossiers, and none to an indicator without points', () => {
    expect(points(linear, 0, 0)).toBe(0);
    expect(points(threshold80, 0, 0)).toBe(0);
    expect(points({ maxPoints: null, scoring: { kind: 'none' } }, 10, 2)).toBeNull();
  });

  it('lists the six groups (100 points), the computed indicators and the others once each', () => {
    expect(GROUPS.reduce((sum, g) => sum + g.maxPoints, 0)).toBe(100);
    const ids = [...INDICATORS.map((i) => i.id), ...NOT_COMPUTED.map((i) => i.id)];
    expect(new Set(ids).size).toBe(ids.length);
    for (const group of GROUPS) {
      const max = [...INDICATORS, ...NOT_COMPUTED].filter((i) => i.group === group.id).reduce((sum, i) => sum + (i.maxPoints ?? 0), 0);
      expect(max, group.id).toBe(group.maxPoints);
    }
  });

  it('figures every computed indicator from the counts; group totals never fill in the rest', () => {
    const counts = { ...ZERO_COUNTS, received: 4, receivedKnown: 3, online: 2, synced: 4, reused: 1, onTime: { finishedOnTime: 1, finishedLate: 1, inProgressWithinTime: 1, inProgressOverdue: 1 }, timed: 2, timedDays: 7 };
    const figures = indicatorFigures(counts);
    expect(figures.map((f) => f.id)).toEqual(INDICATORS.map((i) => i.id));
    expect(figures.find((f) => f.id === '2.1')).toMatchObject({ numerator: 2, denominator: 4, rate: 0.5, points: 10, counts: counts.onTime });
    expect(figures.find((f) => f.id === '3.3')).toMatchObject({ numerator: 2, denominator: 3, unknown: 1, points: 6 });
    expect(figures.find((f) => f.id === '2.2')).toMatchObject({ numerator: 7, denominator: 2, rate: 3.5, points: null, maxPoints: null });
    expect(figures.find((f) => f.id === '1.4')).toMatchObject({ rate: 1, points: 6, estimate: true });
    expect(figures.find((f) => f.id === '4.1')).toMatchObject({ rate: null, points: 0 });
    const groups = groupTotals(figures);
    expect(groups.find((g) => g.group === 'progress')).toEqual({ group: 'progress', name: 'Tiến độ giải quyết', points: 10, computedMaxPoints: 20, maxPoints: 20 });
    expect(groups.find((g) => g.group === 'publicity')).toMatchObject({ points: 6, computedMaxPoints: 6, maxPoints: 18 });
    expect(groups.find((g) => g.group === 'satisfaction')).toMatchObject({ points: null, computedMaxPoints: 0, maxPoints: 18 });
  });

  it('averages 2.2 from the exact total, not from the total rounded for show', () => {
    // 1.006 days over 2 dossiers: the total shown is 1.01, whose half would round to 0.51; the exact average 0.503 is 0.5.
    const figure = indicatorFigures({ ...ZERO_COUNTS, timed: 2, timedDays: 1.006 }).find((f) => f.id === '2.2')!;
    expect(figure).toMatchObject({ numerator: 1.01, denominator: 2, rate: 0.5 });
  });

  it('writes CSV after a UTF-8 byte order mark, with text a spreadsheet would run as a formula quoted out', () => {
    const counts = { ...ZERO_COUNTS, received: 1, receivedKnown: 1, online: 1 };
    const report = serviceIndexReport(
      [
        {
          period: '2026-11',
          firstDay: '2026-11-01',
          lastDay: '2026-11-30',
          province: counts,
          agencies: ['=HYPERLINK("http://x")', '+1', '-2', '@SUM(A1)', '\tTab', 'Sở Y tế'].map((agency) => ({ agency, counts })),
        },
      ],
      { period: 'month', from: '2026-11', to: '2026-11' },
    );
    const csv = serviceIndexCsv(report);
    expect(csv.startsWith(CSV_BOM + 'period,scope,agency,')).toBe(true);
    const agencies = new Set(csv.slice(1).split('\r\n').slice(1, -1).map((line) => line.split(',')[2]));
    expect(agencies).toEqual(new Set(['', '"\'=HYPERLINK(""http://x"")"', "'+1", "'-2", "'@SUM(A1)", "'\tTab", 'Sở Y tế']));
    // Numbers stay numbers, a negative one too.
    expect(csv).toContain(',1,1,0,1,6,6,false,');
  });
});
