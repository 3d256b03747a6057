// @ts-check
/** The operator's pages: national systems, the outbox with redelivery, overdue dossiers. */

import { api, serverNow } from './api.js';
import { announce, errorNotice, errorText, formatNumber, formatTime, h, notice, replace, table } from './dom.js';
import { hasMessage, language, t } from './i18n.js';

/** A certificate expiring within this many days is flagged. */
export const CERTIFICATE_WARNING_DAYS = 30;
/** A CRL to be replaced within this many hours is flagged. */
export const CRL_WARNING_HOURS = 24;

/**
 * A national system's name in the console's language (the API gives it in English).
 * @param {string} id
 * @param {string} name
 */
function upstreamName(id, name) {
  const key = `upstream.${id}`;
  return language() === 'vi' && hasMessage(key) ? t(key) : name;
}

/**
 * A badge with a translated label.
 * @param {string} key
 * @param {'ok' | 'warn' | 'bad' | 'info'} kind
 * @param {string} [fallback]
 */
function badge(key, kind, fallback) {
  return h('span', { class: `badge badge-${kind}` }, hasMessage(key) ? t(key) : (fallback ?? key));
}

/**
 * A date with a warning when it is past or near.
 * @param {string | null} iso
 * @param {number} warnMs
 * @param {'upstreams.expired' | 'upstreams.crlPast'} pastKey
 * @param {'upstreams.soon' | 'upstreams.crlSoon'} soonKey
 */
function deadline(iso, warnMs, pastKey, soonKey) {
  if (!iso) return h('span', { class: 'muted' }, t('upstreams.unknown'));
  const left = new Date(iso).getTime() - serverNow();
  return h('span', {}, formatTime(iso), left < 0 ? [' ', badge(pastKey, 'bad')] : left < warnMs ? [' ', badge(soonKey, 'warn')] : null);
}

/**
 * Each national system's state.
 * @param {HTMLElement} main
 */
export async function upstreamsView(main) {
  const body = h('div', { id: 'upstreams-body' });
  const load = async () => {
    try {
      const { items } = await api('v1/upstreams');
      announce(t('upstreams.count', { count: items.length }));
      replace(
        body,
        h('p', { class: 'hint' }, t('app.updatedAt', { time: formatTime(new Date().toISOString()) })),
        table(
          t('upstreams.title'),
          [t('upstreams.system'), t('upstreams.breaker'), t('upstreams.errorRate'), t('upstreams.latency'), t('upstreams.inFlight'), t('upstreams.queued'), t('upstreams.certificate'), t('upstreams.crl')],
          /** @type {any[]} */ (items).map((u) => [
            h('span', {}, h('strong', {}, u.id), h('br'), h('small', {}, upstreamName(u.id, u.name))),
            badge(`breaker.${u.breaker}`, u.breaker === 'closed' ? 'ok' : u.breaker === 'open' ? 'bad' : 'warn', u.breaker),
            h('span', { class: u.errorRate >= 0.5 ? 'num bad-text' : 'num' }, formatNumber(u.errorRate, { style: 'percent', maximumFractionDigits: 1 })),
            h('span', { class: 'num' }, ['p50', 'p95', 'p99'].map((p) => `${formatNumber(u.latencyMs[p], { maximumFractionDigits: 1 })} ms`).join(' / ')),
            h('span', { class: u.inFlight >= u.maxInFlight ? 'num bad-text' : 'num' }, `${u.inFlight} / ${u.maxInFlight}`),
            h('span', { class: u.queued > 0 && u.queued >= u.maxQueued ? 'num bad-text' : 'num' }, `${u.queued} / ${u.maxQueued}`),
            deadline(u.certificateExpiresAt, CERTIFICATE_WARNING_DAYS * 86_400_000, 'upstreams.expired', 'upstreams.soon'),
            deadline(u.crlNextUpdate ?? null, CRL_WARNING_HOURS * 3_600_000, 'upstreams.crlPast', 'upstreams.crlSoon'),
          ]),
          { captionHidden: true },
        ),
      );
    } catch (e) {
      replace(body, errorNotice(e));
    }
  };
  replace(
    main,
    h('h1', {}, t('upstreams.title')),
    h('p', { class: 'intro' }, t('upstreams.intro', { days: CERTIFICATE_WARNING_DAYS, hours: CRL_WARNING_HOURS })),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button', id: 'upstreams-refresh', onclick: () => void load() }, t('app.refresh'))),
    body,
  );
  await load();
}

/**
 * Asks for confirmation in the page's <dialog> (modal: focus stays inside, Escape cancels).
 * @param {string} title
 * @param {string} text
 * @param {string} confirmLabel
 * @returns {Promise<boolean>}
 */
export function confirmDialog(title, text, confirmLabel) {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('confirm-dialog'));
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  replace(/** @type {HTMLElement} */ (dialog.querySelector('#confirm-title')), title);
  replace(/** @type {HTMLElement} */ (dialog.querySelector('#confirm-text')), text);
  replace(/** @type {HTMLElement} */ (dialog.querySelector('#confirm-escape')), t('dialog.escape'));
  const ok = /** @type {HTMLButtonElement} */ (dialog.querySelector('#confirm-ok'));
  const cancel = /** @type {HTMLButtonElement} */ (dialog.querySelector('#confirm-cancel'));
  ok.textContent = confirmLabel;
  cancel.textContent = t('app.cancel');
  return new Promise((resolve) => {
    const done = (/** @type {boolean} */ answer) => {
      ok.removeEventListener('click', yes);
      cancel.removeEventListener('click', no);
      dialog.removeEventListener('close', closed);
      dialog.removeEventListener('keydown', trapFocus);
      if (dialog.open) dialog.close();
      opener?.focus();
      resolve(answer);
    };
    const yes = () => done(true);
    const no = () => done(false);
    // Escape closes a modal dialog by itself (the cancel event, then close).
    const closed = () => done(false);
    ok.addEventListener('click', yes);
    cancel.addEventListener('click', no);
    dialog.addEventListener('close', closed);
    dialog.addEventListener('keydown', trapFocus);
    dialog.showModal();
    cancel.focus();
  });
}

/**
 * Keeps Tab and Shift+Tab inside a modal dialog: the browser makes the rest of the page inert but
 * would let focus leave for its own toolbar after the last button.
 * @param {KeyboardEvent} e
 */
function trapFocus(e) {
  if (e.key !== 'Tab') return;
  const dialog = /** @type {HTMLElement} */ (e.currentTarget);
  const focusable = [...dialog.querySelectorAll('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])')].filter((el) => !el.hasAttribute('disabled'));
  const first = /** @type {HTMLElement | undefined} */ (focusable[0]);
  const last = /** @type {HTMLElement | undefined} */ (focusable[focusable.length - 1]);
  if (!first || !last) return;
  if (e.shiftKey && document.activeElement === first) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  }
}

/** @param {string} state */
function deliveryBadge(state) {
  return badge(`delivery.${state}`, state === 'delivered' ? 'ok' : state === 'dead' ? 'bad' : 'warn', state);
}

/**
 * The pauses before each read of a redelivered dossier: quick while the outbox worker is likely
 * at it, then every 15 s, a minute in all. Each read is an exchange-log entry, so few of them.
 */
export const FOLLOW_PAUSES_MS = [1000, 2000, 4000, 8000, 15_000, 15_000, 15_000];

/**
 * The outbox: dead and pending dossiers with their errors, redelivery, and overdue dossiers.
 * @param {HTMLElement} main
 * @param {{ session: import('./api.js').ConsoleSession, signal?: AbortSignal }} ctx
 */
export async function outboxView(main, ctx) {
  // Not a live region: each notice in it is one (role status or alert), and focus comes here after a redelivery.
  const status = h('div', { id: 'outbox-status', tabindex: -1 });
  const signal = ctx.signal;
  /** Whether this page is still the one shown (left: the following stops). */
  const here = () => status.isConnected && !signal?.aborted;
  const dead = h('section', { class: 'card', 'aria-labelledby': 'outbox-dead' });
  const pending = h('section', { class: 'card', 'aria-labelledby': 'outbox-pending' });
  const overdue = h('section', { class: 'card', 'aria-labelledby': 'outbox-overdue' });

  /**
   * @param {HTMLElement} section
   * @param {string} id
   * @param {string} title
   * @param {Record<string, string>} query
   * @param {boolean} actions
   */
  async function fill(section, id, title, query, actions) {
    /** @type {string[]} */
    let codes = [];
    try {
      const page = await api('v1/dossiers', { query: { ...query, pageSize: 100 } });
      /** @type {any[]} */
      const items = page.items;
      codes = items.map((d) => String(d.code));
      const headers = [t('outbox.code'), t('outbox.procedure'), t('outbox.received'), t('outbox.due'), t('outbox.status'), t('outbox.state'), t('outbox.error')];
      replace(
        section,
        h('h2', { id }, title, ' ', h('span', { class: 'count' }, `(${formatNumber(page.total)})`)),
        items.length
          ? table(
              title,
              actions ? [...headers, t('outbox.actions')] : headers,
              items.map((d) => {
                const row = [h('code', {}, d.code), d.procedureCode, formatTime(d.receivedAt), formatTime(d.dueAt), hasMessage(`dossierStatus.${d.statusName}`) ? t(/** @type {any} */ (`dossierStatus.${d.statusName}`)) : d.statusName, deliveryBadge(d.deliveryState), d.deliveryError ? h('span', { class: 'error-text' }, d.deliveryError) : '—'];
                if (actions) row.push(h('button', { type: 'button', class: 'button small', 'aria-label': t('outbox.redeliverLabel', { code: d.code }), 'data-redeliver': d.code, onclick: () => void redeliver(d.code) }, t('outbox.redeliver')));
                return row;
              }),
              { captionHidden: true },
            )
          : h('p', {}, t('outbox.empty')),
      );
    } catch (e) {
      replace(section, h('h2', { id }, title), errorNotice(e));
    }
    return codes;
  }

  /** @returns {Promise<string[][]>} the codes listed dead, pending and overdue */
  async function load() {
    return Promise.all([
      fill(dead, 'outbox-dead', t('outbox.dead'), { deliveryState: 'dead' }, true),
      fill(pending, 'outbox-pending', t('outbox.pending'), { deliveryState: 'pending' }, false),
      fill(overdue, 'outbox-overdue', t('outbox.overdue'), { overdue: 'true' }, false),
    ]);
  }

  /** @param {string} dossierCode */
  async function redeliver(dossierCode) {
    const yes = await confirmDialog(t('outbox.confirmTitle'), t('outbox.confirmText', { code: dossierCode }), t('outbox.confirm'));
    if (!yes || !here()) return;
    try {
      const { requeued } = await api(`v1/dossiers/${encodeURIComponent(dossierCode)}/redeliver`, { method: 'POST', signal });
      replace(status, notice('ok', t('outbox.requeued', { code: dossierCode, count: requeued })));
    } catch (e) {
      if (!here()) return;
      replace(status, errorNotice(e));
      status.focus();
      await load();
      return;
    }
    // The row's button goes with the list: focus to the message that says what happened.
    status.focus();
    // Then the result, from the dossier's own row (never from its absence in a list, which may
    // have failed or be cut at 100): its deliveryState, read until delivered or dead. The list
    // filtered by code holds no personal data, so the officer is asked for no purpose and the
    // exchange log records no read of the applicant.
    for (const pause of FOLLOW_PAUSES_MS) {
      await new Promise((r) => setTimeout(r, pause));
      if (!here()) return;
      /** @type {any} */
      let row;
      try {
        const page = await api('v1/dossiers', { query: { code: dossierCode, pageSize: 1 }, signal });
        row = (Array.isArray(page?.items) ? page.items : []).find((/** @type {any} */ d) => d?.code === dossierCode);
      } catch (e) {
        if (!here()) return;
        status.append(notice('error', t('outbox.readFailed', { code: dossierCode }), ' ', errorText(e)));
        await load();
        return;
      }
      if (!here()) return;
      // An operator lists every dossier: the one just redelivered missing is no answer either.
      if (!row) {
        status.append(notice('error', t('outbox.readFailed', { code: dossierCode })));
        await load();
        return;
      }
      const state = String(row.deliveryState ?? '');
      if (state === 'dead') {
        await load();
        status.append(notice('error', t('outbox.failedAgain', { code: dossierCode })));
        return;
      }
      if (state === 'delivered') {
        await load();
        status.append(notice('ok', t('outbox.delivered', { code: dossierCode })));
        return;
      }
    }
    if (here()) {
      status.append(notice('warn', t('outbox.stillPending', { code: dossierCode })));
      await load();
    }
  }

  replace(
    main,
    h('h1', {}, t('outbox.title')),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button', id: 'outbox-refresh', onclick: () => void load() }, t('app.refresh'))),
    status,
    dead,
    pending,
    overdue,
  );
  await load();
}
