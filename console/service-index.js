// @ts-check
/**
 * The national service index (Decision 766/QĐ-TTg) as getServiceIndex computes it: one indicator at
 * a time, charted per agency and period with chart.js (the province as a line over the agencies'
 * bars), the same figures in a table beside the chart, the group points, and the indicators the
 * gateway cannot compute.
 */

import { ApiError, apiUrl, api } from './api.js';
import { announce, errorNotice, field, formatNumber, h, notice, replace, table } from './dom.js';
import { language, t } from './i18n.js';

/**
 * @typedef {{ id: string, numerator: number, denominator: number, unknown: number, rate: number | null,
 *   points: number | null, maxPoints: number | null, estimate: boolean, formula: string }} Figure
 * @typedef {{ indicators: Figure[], groups: { group: string, name: string, points: number | null,
 *   computedMaxPoints: number, maxPoints: number }[], agency?: string }} Scope
 * @typedef {{ period: string, province: Scope, agencies: (Scope & { agency: string })[] }} Period
 * @typedef {{ id: string, group: string, name: string, nameEn: string, maxPoints: number | null,
 *   unit: 'share' | 'days', formula: { vi: string, en: string }, estimate: boolean, note: string | null }} Indicator
 * @typedef {{ periods: Period[], indicators: Indicator[], groups: { id: string, name: string, nameEn: string, maxPoints: number }[],
 *   notComputed: { id: string, name: string, nameEn: string, maxPoints: number, reason: string }[],
 *   sources: { id: string, title: string, url: string | null, note: string }[] }} Report
 */

/** Colours for the agencies' bars (dark enough on white), the province drawn in the brand red. */
const PALETTE = ['#0b4f8a', '#1d6b36', '#7a4a00', '#5b2a86', '#00606b', '#8a3b00', '#3d4b5c', '#6b5b00'];

/** @type {{ chart: { destroy(): void } | null, period: string, from: string, to: string, indicator: string }} */
const state = { chart: null, period: 'month', from: '', to: '', indicator: '2.1' };

/** yyyy-MM of now in Vietnam time, `back` months earlier. */
function vietnamMonth(back = 0) {
  const now = new Date(Date.now() + 7 * 3_600_000);
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** @param {string} period yyyy-MM or yyyy-Qn */
function periodLabel(period) {
  const quarter = /^(\d{4})-Q([1-4])$/.exec(period);
  if (quarter) return t('index.quarter', { q: quarter[2] ?? '', year: quarter[1] ?? '' });
  const [year, month] = period.split('-');
  return `${month}/${year}`;
}

/**
 * The figure as shown: a percentage, or days for 2.2.
 * @param {Figure | undefined} f
 * @param {Indicator} indicator
 */
function value(f, indicator) {
  if (!f || f.rate === null) return '—';
  return indicator.unit === 'days' ? `${formatNumber(f.rate, { maximumFractionDigits: 2 })} ${language() === 'vi' ? 'ngày' : 'days'}` : formatNumber(f.rate, { style: 'percent', maximumFractionDigits: 1 });
}

/** @param {Figure | undefined} f @param {Indicator} indicator */
function chartValue(f, indicator) {
  if (!f || f.rate === null) return null;
  return indicator.unit === 'days' ? f.rate : Math.round(f.rate * 1000) / 10;
}

/**
 * Whether a source's address may be a link: http(s) only (never javascript:, data: and the like).
 * @param {string | null} url
 */
function webUrl(url) {
  if (!url) return false;
  try {
    const protocol = new URL(url).protocol;
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/** Loads chart.js (a classic script defining window.Chart) from the gateway's vendor files, once. */
function loadChart() {
  const w = /** @type {any} */ (window);
  if (w.Chart) return Promise.resolve(w.Chart);
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = new URL('../vendor/chart.umd.min.js', import.meta.url).href;
    script.onload = () => resolve(w.Chart);
    script.onerror = () => reject(new Error('chart.js'));
    document.head.append(script);
  });
}

/** @param {HTMLElement} main */
export async function serviceIndexView(main) {
  if (!state.from) {
    state.from = vietnamMonth(5);
    state.to = vietnamMonth(0);
  }
  const period = h('select', { id: 'si-period' }, h('option', { value: 'month', selected: state.period === 'month' }, t('index.monthly')), h('option', { value: 'quarter', selected: state.period === 'quarter' }, t('index.quarterly')));
  const from = h('input', { id: 'si-from', type: 'month', value: state.from, required: true });
  const to = h('input', { id: 'si-to', type: 'month', value: state.to, required: true });
  const indicator = h('select', { id: 'si-indicator' });
  const csv = h('a', { class: 'button', href: '', download: true }, t('index.csv'));
  const body = h('div', { id: 'si-body' });
  const updateCsv = () => {
    csv.href = apiUrl('v1/reports/service-index', { from: from.value, to: to.value, period: period.value, format: 'csv' }).href;
  };
  /** @type {Report | null} */
  let report = null;

  async function load() {
    Object.assign(state, { period: period.value, from: from.value, to: to.value });
    updateCsv();
    replace(body, h('p', {}, t('app.loading')));
    try {
      report = await api('v1/reports/service-index', { query: { from: state.from, to: state.to, period: state.period, format: 'json' } });
      const current = report?.indicators.some((i) => i.id === state.indicator) ? state.indicator : report?.indicators[0]?.id ?? '';
      state.indicator = current;
      replace(indicator, (report?.indicators ?? []).map((i) => h('option', { value: i.id, selected: i.id === current }, `${i.id} — ${language() === 'vi' ? i.name : i.nameEn}`)));
      await draw();
      announce(t('index.loaded', { periods: report?.periods.length ?? 0 }));
    } catch (e) {
      replace(body, e instanceof ApiError && e.status === 404 ? notice('info', t('index.unavailable')) : errorNotice(e));
    }
  }

  async function draw() {
    if (!report) return;
    state.chart?.destroy();
    state.chart = null;
    const def = report.indicators.find((i) => i.id === state.indicator);
    if (!def) {
      replace(body, h('p', {}, t('index.empty')));
      return;
    }
    const name = language() === 'vi' ? def.name : def.nameEn;
    const agencies = [...new Set(report.periods.flatMap((p) => p.agencies.map((a) => a.agency)))].sort();
    const fig = (/** @type {Scope | undefined} */ scope) => scope?.indicators.find((f) => f.id === def.id);
    const canvas = h('canvas', { id: 'si-chart', role: 'img', 'aria-label': t('index.chart', { indicator: name }) }, t('index.table', { indicator: name }));
    /** @type {(string | Node)[][]} */
    const rows = [];
    for (const p of report.periods) {
      for (const [scope, label] of /** @type {[Scope, string][]} */ ([[p.province, t('index.province')], ...p.agencies.map((a) => [a, a.agency])])) {
        const f = fig(scope);
        rows.push([periodLabel(p.period), label, value(f, def), f ? `${formatNumber(f.numerator)} / ${formatNumber(f.denominator)}` : '—', f && f.unknown ? formatNumber(f.unknown) : '0', f?.points === null || f?.points === undefined ? '—' : `${formatNumber(f.points)} / ${formatNumber(f.maxPoints ?? 0)}`]);
      }
    }
    const last = report.periods[report.periods.length - 1];
    const groupName = (/** @type {string} */ id, /** @type {string} */ fallback) => {
      const g = report?.groups.find((x) => x.id === id);
      return g ? (language() === 'vi' ? g.name : g.nameEn) : fallback;
    };
    replace(
      body,
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'si-fig-title' },
        h('h2', { id: 'si-fig-title' }, `${def.id} — ${name}`, def.estimate ? ` (${t('index.estimate')})` : ''),
        // The sources' formula (Vietnamese, as Decision 766 words it) and what the gateway counts
        // for it (English, as the API gives it): both, each marked with its language.
        h('p', {}, h('strong', {}, `${t('index.formulaSource')}: `), h('span', { lang: 'vi' }, def.formula.vi)),
        h('p', {}, h('strong', {}, `${t('index.formulaCounted')}: `), h('span', { lang: 'en' }, def.formula.en)),
        def.note ? h('p', { class: 'hint' }, `${t('index.note')}: `, h('span', { lang: 'en' }, def.note)) : null,
        h(
          'div',
          { class: 'chart-grid' },
          h('div', { class: 'chart-box' }, canvas),
          table(t('index.table', { indicator: name }), [t('index.periodLabel'), t('index.agency'), def.unit === 'days' ? t('index.days') : t('index.rate'), `${t('index.numerator')} / ${t('index.denominator')}`, t('index.unknown'), t('index.points')], rows),
        ),
      ),
      last
        ? h(
            'section',
            { class: 'card', 'aria-labelledby': 'si-groups' },
            h('h2', { id: 'si-groups' }, t('index.groups', { period: periodLabel(last.period) })),
            table(
              t('index.groups', { period: periodLabel(last.period) }),
              [t('index.group'), t('index.points'), t('index.computedMax'), t('index.max')],
              last.province.groups.map((g) => [groupName(g.group, g.name), g.points === null ? t('index.notComputedFor') : formatNumber(g.points), formatNumber(g.computedMaxPoints), formatNumber(g.maxPoints)]),
              { captionHidden: true },
            ),
          )
        : null,
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'si-nc' },
        h('h2', { id: 'si-nc' }, t('index.notComputed')),
        table(t('index.notComputed'), [t('index.indicator'), t('index.max'), t('index.reason')], report.notComputed.map((n) => [`${n.id} — ${language() === 'vi' ? n.name : n.nameEn}`, formatNumber(n.maxPoints), h('span', { lang: 'en' }, n.reason)]), { captionHidden: true }),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'si-sources' },
        h('h2', { id: 'si-sources' }, t('index.sources')),
        h('ul', {}, report.sources.map((s) => h('li', {}, h('strong', {}, `${s.id}: `), s.title, webUrl(s.url) ? [' — ', h('a', { href: s.url, rel: 'noopener noreferrer' }, s.url)] : s.url ? [' — ', s.url] : null, h('br'), h('small', { lang: 'en' }, s.note)))),
      ),
    );
    try {
      const Chart = await loadChart();
      const labels = report.periods.map((p) => periodLabel(p.period));
      state.chart = new Chart(canvas, {
        data: {
          labels,
          datasets: [
            // Markers, and drawn past the plot's edge: a province at 100 % sits on the top line otherwise.
            { type: 'line', label: t('index.province'), data: report.periods.map((p) => chartValue(fig(p.province), def)), borderColor: '#8b1a1a', backgroundColor: '#8b1a1a', borderWidth: 3, pointRadius: 5, pointHoverRadius: 7, pointStyle: 'rectRot', clip: false, order: 0 },
            ...agencies.map((agency, i) => ({ type: 'bar', label: agency, data: report?.periods.map((p) => chartValue(fig(p.agencies.find((a) => a.agency === agency)), def)) ?? [], backgroundColor: PALETTE[i % PALETTE.length], order: 1 })),
          ],
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          layout: { padding: { top: 12 } },
          locale: language() === 'vi' ? 'vi-VN' : 'en-GB',
          scales: { y: { beginAtZero: true, ...(def.unit === 'share' ? { max: 100, title: { display: true, text: '%' } } : { title: { display: true, text: t('index.days') } }) } },
          plugins: { legend: { position: 'bottom' } },
        },
      });
    } catch {
      // Without the chart the table beside it holds the same figures.
    }
  }

  indicator.addEventListener('change', () => {
    state.indicator = indicator.value;
    void draw();
  });
  const form = h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'si-form',
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        void load();
      },
    },
    h('h2', { id: 'si-form', class: 'visually-hidden' }, t('index.show')),
    h('div', { class: 'form-grid' }, field(t('index.period'), period), field(t('index.from'), from), field(t('index.to'), to), field(t('index.indicator'), indicator)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, t('index.show')), csv),
  );
  replace(main, h('h1', {}, t('index.title')), h('p', { class: 'intro' }, t('index.intro')), form, body);
  await load();
}
