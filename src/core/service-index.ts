/**
 * The national service index (Bộ chỉ số phục vụ người dân, doanh nghiệp, Decision 766/QĐ-TTg) as
 * far as the gateway's dossiers support it: the indicators as data, and pure functions turning
 * counts into rates and points. The store counts (src/store/service-index.ts); nothing here reads.
 *
 * Where the figures come from (SOURCES): the annex of 766 itself could not be read; the formulas
 * are those of the national portal's description "Mô tả công thức tính chỉ số 766" (S5) and of its
 * METRICS sheet (S4), both known only from an unofficial public transcription, with the group
 * maxima and score patterns observed on the portal (S6, S7). Indicators the gateway's data cannot
 * support are listed in NOT_COMPUTED with the reason: no figure is ever made up for them.
 */

import type { components } from '../generated/gateway.ts';

type Schemas = components['schemas'];
type Report = Schemas['ServiceIndexReport'];

export type GroupId = Schemas['ServiceIndexGroupId'];

/** A group and its full maximum in the current national score (S4/S7): 100 points in all. */
export type IndicatorGroup = Report['groups'][number];

export const GROUPS: readonly IndicatorGroup[] = [
  { id: 'publicity', name: 'Công khai, minh bạch', nameEn: 'Publicity and transparency', maxPoints: 18 },
  { id: 'progress', name: 'Tiến độ giải quyết', nameEn: 'Processing progress', maxPoints: 20 },
  { id: 'online', name: 'Dịch vụ công trực tuyến', nameEn: 'Online services', maxPoints: 12 },
  { id: 'payment', name: 'Thanh toán trực tuyến', nameEn: 'Online payment', maxPoints: 10 },
  { id: 'satisfaction', name: 'Mức độ hài lòng', nameEn: 'Satisfaction', maxPoints: 18 },
  { id: 'digitisation', name: 'Số hoá hồ sơ', nameEn: 'Digitisation of dossiers', maxPoints: 22 },
];

export type SourceId = Schemas['ServiceIndexSourceId'];

export type Source = Report['sources'][number];

export const SOURCES: readonly Source[] = [
  {
    id: 'QD766',
    title: 'Quyết định 766/QĐ-TTg ngày 23/06/2022 phê duyệt Bộ chỉ số chỉ đạo, điều hành và đánh giá chất lượng phục vụ người dân, doanh nghiệp',
    url: 'https://thuviennhadat.vn/vbpl/quyet-dinh-766-qd-ttg-2022-bo-chi-so-danh-gia-chat-luong-phuc-vu-thu-tuc-hanh-chinh-dien-tu-518821.html',
    note: 'The decision; its annex (the indicator formulas) was not readable in the copy consulted.',
  },
  {
    id: 'S4',
    title: 'Công thức 766.xlsx, sheet METRICS (indicators, maximum points, formula text)',
    url: 'https://github.com/ChippedTopaz/qd766/blob/72417cd/docs/metrics.m0.json',
    note: 'Unofficial public transcription of a working spreadsheet; origin not stated.',
  },
  {
    id: 'S5',
    title: 'Mô tả công thức tính chỉ số 766 (the national portal’s description of the formulas)',
    url: 'https://github.com/ChippedTopaz/qd766/blob/0a54bd2/web/src/formula-document.ts',
    note: 'Unofficial public transcription of the document; legal status not verified.',
  },
  {
    id: 'S6',
    title: 'Score formulas reconstructed from the national portal’s answers (SCORING_ANALYSIS_M0)',
    url: 'https://github.com/ChippedTopaz/qd766/blob/main/docs/SCORING_ANALYSIS_M0.md',
    note: 'Empirical, not published: how points follow from rates (linear, or capped at a threshold).',
  },
  {
    id: 'S7',
    title: 'Group maxima and the online-payment split as the national portal shows them',
    url: 'https://github.com/ChippedTopaz/qd766/blob/main/docs/formula-configuration.md',
    note: 'Empirical (compared with the portal on 08/10/2026).',
  },
  {
    id: 'DOMAIN',
    title: 'The gateway’s on-time rule (src/core/dossiers/lifecycle.ts, DOMAIN.md)',
    url: null,
    note: 'Calendar days in Vietnam time; supplement waits subtracted; a second supplement request makes a dossier late.',
  },
];

/** How points follow from a rate: in proportion, or full from a threshold up (S5 "Lưu ý", S6). */
export type Scoring = { kind: 'linear' } | { kind: 'threshold'; threshold: number } | { kind: 'none' };

export type ComputedIndicatorId = Schemas['ServiceIndicatorId'];

export interface Indicator {
  id: ComputedIndicatorId;
  group: GroupId;
  /** As the sources name it. */
  name: string;
  nameEn: string;
  /** Null: no points (a figure shown only). */
  maxPoints: number | null;
  scoring: Scoring;
  /** `share`: numerator ÷ denominator; `days`: an average number of days (numerator the total). */
  unit: 'share' | 'days';
  formula: { vi: string; en: string };
  sources: SourceId[];
  /** The gateway sees only part of what the official figure counts. */
  estimate: boolean;
  /** Where the gateway's figure differs from the source's rule, or how it is approximated. */
  note: string | null;
}

export const INDICATORS: readonly Indicator[] = [
  {
    id: '1.4',
    group: 'publicity',
    name: 'Tỷ lệ hồ sơ đồng bộ lên Cổng Dịch vụ công quốc gia',
    nameEn: 'Dossiers synchronised to the National Public Service Portal',
    maxPoints: 6,
    scoring: { kind: 'linear' },
    unit: 'share',
    formula: {
      vi: 'Số lượng hồ sơ đã đồng bộ có “Ngày tiếp nhận” trong kỳ báo cáo / Tổng số hồ sơ được tính toán trong kỳ × 100%',
      en: 'dossiers received in the period that the national portal confirmed it holds ÷ dossiers received in the period',
    },
    sources: ['S5', 'S4'],
    estimate: true,
    note: 'The official denominator is the larger of the counts on the national reporting system and the portal; the gateway knows only the dossiers handed to it. No sync deadline is applied (none was found).',
  },
  {
    id: '2.1',
    group: 'progress',
    name: 'Tỷ lệ hồ sơ xử lý trước hạn, đúng hạn',
    nameEn: 'Dossiers handled early or on time',
    maxPoints: 20,
    scoring: { kind: 'linear' },
    unit: 'share',
    formula: {
      vi: 'Tổng số hồ sơ đã xử lý và đang xử lý trước hạn, đúng hạn và trong hạn trong kỳ / Tổng số hồ sơ tiếp nhận và xử lý trong kỳ × 100',
      en: '(finished in the period on time + in progress at the period’s end within time) ÷ rated dossiers received or processed in the period (accepted before its end, processing not ended before its start, not withdrawn)',
    },
    sources: ['S4', 'S5', 'S6', 'DOMAIN'],
    estimate: false,
    note: 'Our on-time rule: calendar days in Vietnam time (S5 compares instants); a dossier with no due date is not rated (S5 checks it against the procedure’s time limit); a withdrawal is not rated. A dossier in progress at the period’s end is judged on its last day (S5); its supplement waits are taken as its clock records them when asked.',
  },
  {
    id: '2.2',
    group: 'progress',
    name: 'Thời gian giải quyết TTHC trung bình theo từng TTHC',
    nameEn: 'Average processing time',
    maxPoints: null,
    scoring: { kind: 'none' },
    unit: 'days',
    formula: {
      vi: 'Tổng thời gian giải quyết của các hồ sơ TTHC / Tổng số hồ sơ TTHC',
      en: 'total days from acceptance to the end of processing ÷ dossiers finished or returned whose processing started (acceptance) in the period',
    },
    sources: ['S5'],
    estimate: false,
    note: 'S5 shows it for one chosen procedure; here over all procedures of the agency. No points (none found).',
  },
  {
    id: '3.3',
    group: 'online',
    name: 'Tỷ lệ hồ sơ TTHC theo hình thức nộp hồ sơ',
    nameEn: 'Dossiers submitted online',
    maxPoints: 6,
    scoring: { kind: 'threshold', threshold: 0.5 },
    unit: 'share',
    formula: {
      vi: 'Tổng số hồ sơ tiếp nhận trực tuyến có Ngày tiếp nhận trong kỳ / Tổng số hồ sơ tiếp nhận trong kỳ × 100%; đạt từ 50% trở lên sẽ đạt điểm tối đa',
      en: 'dossiers received in the period with channel online ÷ dossiers received in the period; full points from 50%',
    },
    sources: ['S5', 'S4', 'S6'],
    estimate: false,
    note: 'S5 also multiplies by the sync rate (1.4) and asks an electronic result of online dossiers of procedures with a paper result; both left out here (S4’s wording). The 6 points are S6’s split of the group (S4 gives the group’s 12 to full-online dossiers).',
  },
  {
    id: '3.6',
    group: 'payment',
    name: 'Tỷ lệ hồ sơ thanh toán trực tuyến',
    nameEn: 'Dossiers paid online',
    maxPoints: 6,
    scoring: { kind: 'linear' },
    unit: 'share',
    formula: {
      vi: 'Tổng số hồ sơ thanh toán phí, lệ phí và nghĩa vụ tài chính khác trực tuyến / Tổng số hồ sơ của các TTHC có thông tin phí, lệ phí × 100',
      en: 'dossiers received in the period with some fee above 0 that were paid online ÷ dossiers received in the period with some fee above 0',
    },
    sources: ['S4', 'S5', 'S7'],
    estimate: false,
    note: 'S5 selects by the start of processing and by the catalogue’s fee flag; here by the month of receipt and by the dossier’s own fees.',
  },
  {
    id: '3.5b',
    group: 'payment',
    name: 'Tỷ lệ TTHC có giao dịch thanh toán trực tuyến',
    nameEn: 'Procedures with an online payment',
    maxPoints: 2,
    scoring: { kind: 'threshold', threshold: 0.8 },
    unit: 'share',
    formula: {
      vi: 'Số TTHC có hồ sơ thanh toán trực tuyến / Số TTHC có hồ sơ có phí, lệ phí trong kỳ; đạt từ 80% trở lên sẽ đạt điểm tối đa',
      en: 'distinct procedures with a dossier paid online ÷ distinct procedures with a dossier with some fee above 0, received in the period; full points from 80%',
    },
    sources: ['S7', 'S6'],
    estimate: false,
    note: 'Name and split from S7 only. The province’s figure counts each procedure once (not the sum of the agencies’).',
  },
  {
    id: '4.1',
    group: 'digitisation',
    name: 'Tỷ lệ hồ sơ thủ tục hành chính có cấp kết quả giải quyết thủ tục hành chính điện tử',
    nameEn: 'Dossiers with an electronic result',
    maxPoints: 6,
    scoring: { kind: 'linear' },
    unit: 'share',
    formula: {
      vi: 'Tổng số hồ sơ TTHC có cấp kết quả giải quyết TTHC điện tử / Tổng số hồ sơ TTHC thuộc thẩm quyền giải quyết (đã hoàn thành, trả kết quả) × 100%',
      en: 'dossiers finished or returned in the period with a result listed by the one-stop system or deposited in the document store ÷ dossiers finished or returned in the period',
    },
    sources: ['S5', 'S4', 'S6'],
    estimate: false,
    note: 'S5 counts only procedures that require a paper result (the catalogue’s flag); here every procedure.',
  },
  {
    id: '4.2',
    group: 'digitisation',
    name: 'Tỷ lệ hồ sơ thủ tục hành chính thực hiện số hóa hồ sơ',
    nameEn: 'Dossiers digitised (submission and result)',
    maxPoints: 4,
    scoring: { kind: 'linear' },
    unit: 'share',
    formula: {
      vi: '(1) số hoá hồ sơ = Có file đính kèm trong thành phần hồ sơ; (2) Có file đính kèm trong kết quả xử lý / Tổng số hồ sơ thuộc thẩm quyền',
      en: 'dossiers finished or returned in the period with a digitised submission and an electronic result ÷ dossiers finished or returned in the period',
    },
    sources: ['S5', 'S6'],
    estimate: false,
    note: 'Linear as S6 observed (S5’s notes give an 80% threshold); counted over finished dossiers, as only they can have both.',
  },
  {
    id: '4.3',
    group: 'digitisation',
    name: 'Tỷ lệ hồ sơ khai thác, sử dụng lại thông tin, dữ liệu số hóa',
    nameEn: 'Dossiers reusing digitised data',
    maxPoints: 2,
    scoring: { kind: 'threshold', threshold: 0.8 },
    unit: 'share',
    formula: {
      vi: 'Tổng số hồ sơ TTHC có ngày tiếp nhận trong kỳ có ít nhất 1 thành phần hồ sơ được đánh dấu tái sử dụng dữ liệu số hóa / Tổng số hồ sơ có Ngày tiếp nhận trong kỳ; đạt từ 80% trở lên sẽ đạt điểm tối đa',
      en: 'dossiers received in the period with at least one attachment reused (or naming a stored document) ÷ dossiers received in the period; full points from 80%',
    },
    sources: ['S5', 'S6'],
    estimate: false,
    note: null,
  },
  {
    id: '4.5b',
    group: 'digitisation',
    name: 'Tỷ lệ hồ sơ TTHC có sử dụng thông tin, dữ liệu dân cư',
    nameEn: 'Dossiers using population data',
    maxPoints: 2,
    scoring: { kind: 'linear' },
    unit: 'share',
    formula: {
      vi: 'Số hồ sơ có tài khoản được xác thực với VNeID hoặc sử dụng dữ liệu từ CSDL quốc gia về dân cư / Tổng số hồ sơ',
      en: 'dossiers received in the period whose applicant was VNeID-verified or for which the population database was consulted ÷ dossiers received in the period',
    },
    sources: ['S7'],
    estimate: false,
    note: null,
  },
];

export type NotComputedIndicator = Report['notComputed'][number];

/** The other indicators of the six groups: what each needs that the gateway does not hold. */
export const NOT_COMPUTED: readonly NotComputedIndicator[] = [
  { id: '1.1', group: 'publicity', name: 'Tỷ lệ thủ tục hành chính công bố đúng hạn', nameEn: 'Procedures published on time', maxPoints: 6, reason: 'needs the national procedure database (publication decisions and the effective dates of their legal bases); dossiers do not carry it', sources: ['S4', 'S5'] },
  { id: '1.2', group: 'publicity', name: 'Tỷ lệ thủ tục hành chính được cập nhật, công khai đúng hạn', nameEn: 'Procedures updated and made public on time', maxPoints: 4, reason: 'needs the national procedure database (when each procedure was made public)', sources: ['S4', 'S5'] },
  { id: '1.3', group: 'publicity', name: 'Tỷ lệ thủ tục hành chính được công khai có đầy đủ các nội dung quy định về các bộ phận tạo thành của thủ tục hành chính', nameEn: 'Procedures published with all required parts', maxPoints: 2, reason: 'a property of the procedure catalogue, not of dossiers', sources: ['S4', 'S5'] },
  { id: '3.1', group: 'online', name: 'Tỷ lệ TTHC cung cấp dịch vụ công trực tuyến', nameEn: 'Procedures offered online', maxPoints: 2, reason: 'needs the catalogue of procedures under the province’s authority with their online level', sources: ['S5', 'S6'] },
  { id: '3.2', group: 'online', name: 'Tỷ lệ dịch vụ công trực tuyến có phát sinh hồ sơ', nameEn: 'Online services that received a dossier', maxPoints: 4, reason: 'the denominator is the list of published online services, which the gateway does not hold (the numerator alone would be a guess at the rate)', sources: ['S5', 'S6'] },
  { id: '3.5', group: 'payment', name: 'Tỷ lệ TTHC có yêu cầu nghĩa vụ tài chính được tích hợp để người dân có thể thanh toán trực tuyến trên Cổng Dịch vụ công quốc gia', nameEn: 'Fee-bearing procedures integrated with online payment', maxPoints: 2, reason: 'the denominator is the procedures with fees in the national procedure database', sources: ['S5', 'S7'] },
  { id: '5.2', group: 'satisfaction', name: 'Tỷ lệ phản ánh, kiến nghị xử lý đúng hạn', nameEn: 'Feedback handled on time', maxPoints: 6, reason: 'feedback (phản ánh, kiến nghị) is handled in the national feedback system, not in dossiers', sources: ['S4', 'S6'] },
  { id: '5.3', group: 'satisfaction', name: 'Tỷ lệ hài lòng trong xử lý phản ánh, kiến nghị', nameEn: 'Satisfaction with feedback handling', maxPoints: 6, reason: 'needs the feedback system’s answers and ratings', sources: ['S4', 'S6'] },
  { id: '5.4', group: 'satisfaction', name: 'Tỷ lệ hài lòng trong tiếp nhận, giải quyết thủ tục hành chính', nameEn: 'Satisfaction with receiving and handling dossiers', maxPoints: 6, reason: 'needs the applicants’ ratings and feedback on the national portal; only its overdue part (2.1) is known here', sources: ['S4', 'S5'] },
  { id: '5.1', group: 'satisfaction', name: 'Tỷ lệ phản ánh, kiến nghị theo phân loại', nameEn: 'Feedback by category', maxPoints: 0, reason: 'feedback is not in dossiers (tracking only, no points)', sources: ['S4', 'S6'] },
  { id: '4.4', group: 'digitisation', name: 'Tỷ lệ hồ sơ TTHC được số hóa có kết nối, chia sẻ dữ liệu phục vụ tái sử dụng', nameEn: 'Digitised dossiers linked to the citizen’s store on the national portal', maxPoints: 4, reason: 'counts results linked into the citizen’s document store on the national portal, which the gateway does not see', sources: ['S5'] },
  { id: '4.5a', group: 'digitisation', name: 'Tỷ lệ TTHC triển khai kết nối, chia sẻ dữ liệu dân cư phục vụ GQ TTHC', nameEn: 'Procedures connected to the population database', maxPoints: 2, reason: 'the denominator is the catalogue’s procedures whose applicants are individuals', sources: ['S7'] },
  { id: '4.6', group: 'digitisation', name: 'Tỷ lệ cung cấp dịch vụ chứng thực bản sao điện tử từ bản chính', nameEn: 'Communes offering electronic certified copies', maxPoints: 2, reason: 'counts communes offering the service, a list the gateway does not hold', sources: ['S4'] },
];

/** numerator ÷ denominator, 4 decimals; null when the denominator is 0 (S5: "Nếu mẫu số = 0: hiển thị 0 hoặc N/A"). */
export function rate(numerator: number, denominator: number): number | null {
  return denominator === 0 ? null : Math.round((numerator / denominator) * 10_000) / 10_000;
}

const twoDecimals = (value: number) => Math.round(value * 100) / 100;

/**
 * Points from the counts (not from the rounded rate), 2 decimals: linear `max × n/d`, or with a
 * threshold T `min(max, max × (n/d) / T)`. No dossiers, no points: 0 (S5 shows 0 or N/A); an
 * indicator without points, null.
 */
export function points(indicator: Pick<Indicator, 'maxPoints' | 'scoring'>, numerator: number, denominator: number): number | null {
  if (indicator.maxPoints === null || indicator.scoring.kind === 'none') return null;
  if (denominator === 0) return 0;
  const share = numerator / denominator;
  const scaled = indicator.scoring.kind === 'threshold' ? share / indicator.scoring.threshold : share;
  return twoDecimals(indicator.maxPoints * Math.min(1, Math.max(0, scaled)));
}

/** One indicator's figure for one agency (or the province) and period. */
export type IndicatorFigure = Schemas['ServiceIndexFigure'];

/** The counts behind 2.1. */
export type OnTimeCounts = NonNullable<IndicatorFigure['counts']>;

/** What the store counts for one agency (or the province) and one period. */
export interface PeriodCounts {
  /** Received in the period (month of receipt, Vietnam time). */
  received: number;
  /** Of those, stored since migration 0014 (their channel, payment, fees and population data are known). */
  receivedKnown: number;
  synced: number;
  online: number;
  feeDue: number;
  paidOnline: number;
  feeProcedures: number;
  paidProcedures: number;
  reused: number;
  populationData: number;
  /** Processing ended in the period, finished (9) or returned (10). */
  finished: number;
  /** Of those, stored since 0014 (whether the one-stop system listed a result is known). */
  finishedKnown: number;
  electronicResult: number;
  digitised: number;
  onTime: OnTimeCounts;
  /** Finished or returned, accepted in the period: how many, and their processing days in all. */
  timed: number;
  timedDays: number;
}

export const ZERO_COUNTS: PeriodCounts = {
  received: 0,
  receivedKnown: 0,
  synced: 0,
  online: 0,
  feeDue: 0,
  paidOnline: 0,
  feeProcedures: 0,
  paidProcedures: 0,
  reused: 0,
  populationData: 0,
  finished: 0,
  finishedKnown: 0,
  electronicResult: 0,
  digitised: 0,
  onTime: { finishedOnTime: 0, finishedLate: 0, inProgressWithinTime: 0, inProgressOverdue: 0 },
  timed: 0,
  timedDays: 0,
};

/** numerator, denominator and unknown of each indicator, from the counts. */
function parts(id: ComputedIndicatorId, c: PeriodCounts): { numerator: number; denominator: number; unknown: number } {
  switch (id) {
    case '1.4':
      return { numerator: c.synced, denominator: c.received, unknown: 0 };
    case '2.1': {
      const t = c.onTime;
      return { numerator: t.finishedOnTime + t.inProgressWithinTime, denominator: t.finishedOnTime + t.finishedLate + t.inProgressWithinTime + t.inProgressOverdue, unknown: 0 };
    }
    case '2.2':
      return { numerator: twoDecimals(c.timedDays), denominator: c.timed, unknown: 0 };
    case '3.3':
      return { numerator: c.online, denominator: c.receivedKnown, unknown: c.received - c.receivedKnown };
    case '3.6':
      return { numerator: c.paidOnline, denominator: c.feeDue, unknown: c.received - c.receivedKnown };
    case '3.5b':
      return { numerator: c.paidProcedures, denominator: c.feeProcedures, unknown: c.received - c.receivedKnown };
    case '4.1':
      return { numerator: c.electronicResult, denominator: c.finishedKnown, unknown: c.finished - c.finishedKnown };
    case '4.2':
      return { numerator: c.digitised, denominator: c.finishedKnown, unknown: c.finished - c.finishedKnown };
    case '4.3':
      return { numerator: c.reused, denominator: c.received, unknown: 0 };
    case '4.5b':
      return { numerator: c.populationData, denominator: c.receivedKnown, unknown: c.received - c.receivedKnown };
  }
}

/** Every computed indicator's figure from one agency's (or the province's) counts for one period. */
export function indicatorFigures(counts: PeriodCounts): IndicatorFigure[] {
  return INDICATORS.map((indicator) => {
    const { numerator, denominator, unknown } = parts(indicator.id, counts);
    // The average from the unrounded total: the rounded one shown beside it would shift it by up to ½ hundredth ÷ dossiers.
    const value = indicator.unit === 'days' ? (denominator === 0 ? null : twoDecimals(counts.timedDays / denominator)) : rate(numerator, denominator);
    return {
      id: indicator.id,
      numerator,
      denominator,
      unknown,
      rate: value,
      points: points(indicator, numerator, denominator),
      maxPoints: indicator.maxPoints,
      estimate: indicator.estimate,
      formula: indicator.formula.en,
      sources: indicator.sources,
      ...(indicator.id === '2.1' ? { counts: { ...counts.onTime } } : {}),
    };
  });
}

/** A group's points from the computed indicators, what they could reach, and the group's full maximum (the part not computed is never filled in). */
export type GroupTotal = Schemas['ServiceIndexScope']['groups'][number];

/** Per group: the computed indicators' points and what they could reach, beside the group's full maximum. */
export function groupTotals(figures: readonly IndicatorFigure[]): GroupTotal[] {
  return GROUPS.map((group) => {
    const scored = figures.filter((f) => f.points !== null && f.maxPoints !== null && INDICATORS.find((i) => i.id === f.id)?.group === group.id);
    return {
      group: group.id,
      name: group.name,
      points: scored.length === 0 ? null : twoDecimals(scored.reduce((sum, f) => sum + f.points!, 0)),
      computedMaxPoints: scored.reduce((sum, f) => sum + f.maxPoints!, 0),
      maxPoints: group.maxPoints,
    };
  });
}

export type PeriodKind = Report['period'];

/** One period of a report: its key (yyyy-MM or yyyy-Qn) and first and last days (Vietnam time). */
export type ReportPeriod = Pick<Schemas['ServiceIndexPeriod'], 'period' | 'firstDay' | 'lastDay'>;

type Scope = Schemas['ServiceIndexScope'];

export type ServiceIndexReport = Report;

const scope = (counts: PeriodCounts): Scope => {
  const indicators = indicatorFigures(counts);
  return { indicators, groups: groupTotals(indicators) };
};

/** The report from the counts of each period: the province's, and each agency's (only `agency`'s when given). */
export function serviceIndexReport(
  counted: (ReportPeriod & { province: PeriodCounts; agencies: { agency: string; counts: PeriodCounts }[] })[],
  query: { period: PeriodKind; from: string; to: string; agency?: string | undefined },
): ServiceIndexReport {
  return {
    period: query.period,
    from: query.from,
    to: query.to,
    agency: query.agency ?? null,
    periods: counted.map(({ province, agencies, ...period }) => ({
      ...period,
      province: scope(province),
      agencies: agencies.filter((a) => query.agency === undefined || a.agency === query.agency).map((a) => ({ agency: a.agency, ...scope(a.counts) })),
    })),
    indicators: [...INDICATORS],
    groups: [...GROUPS],
    notComputed: [...NOT_COMPUTED],
    sources: [...SOURCES],
  };
}

/** The CSV columns, one row per period × scope (province or agency) × computed indicator. */
export const CSV_COLUMNS = ['period', 'scope', 'agency', 'indicator', 'group', 'name', 'numerator', 'denominator', 'unknown', 'rate', 'points', 'maxPoints', 'estimate', 'sources'] as const;

/**
 * A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. Text a
 * spreadsheet would take for a formula (= + - @, a tab or a carriage return first) gets a leading
 * `'`: an agency's name comes from the one-stop systems, and opening the file must not run it.
 * Numbers are written as they are (a negative one is never text).
 */
const field = (value: string | number | boolean | null): string => {
  const text = value === null ? '' : typeof value === 'string' && /^[=+\-@\t\r]/.test(value) ? `'${value}` : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

/** The UTF-8 byte order mark: without it, spreadsheet applications read the Vietnamese names as another encoding. */
export const CSV_BOM = '\uFEFF';

/** The report as CSV (RFC 4180, CRLF line ends, a header row, after a UTF-8 byte order mark): the figures only; definitions are in the JSON. */
export function serviceIndexCsv(report: ServiceIndexReport): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const p of report.periods) {
    const scopes = [{ scope: 'province', agency: null as string | null, figures: p.province.indicators }, ...p.agencies.map((a) => ({ scope: 'agency', agency: a.agency, figures: a.indicators }))];
    for (const s of scopes) {
      for (const f of s.figures) {
        const indicator = INDICATORS.find((i) => i.id === f.id)!;
        lines.push([p.period, s.scope, s.agency, f.id, indicator.group, indicator.name, f.numerator, f.denominator, f.unknown, f.rate, f.points, f.maxPoints, f.estimate, f.sources.join(' ')].map(field).join(','));
      }
    }
  }
  return CSV_BOM + lines.join('\r\n') + '\r\n';
}
