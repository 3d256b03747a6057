// @ts-check
/** The auditor's pages: checkpoint, entries, one entry with its proof checked here, consistency, accesses. */

import { ApiError, api, apiUrl, serverNow } from './api.js';
import { announce, download, errorNotice, field, formatDuration, formatNumber, formatTime, h, notice, replace, table } from './dom.js';
import { hasMessage, t } from './i18n.js';
import { leafHash, encodeHash, verifyConsistency, verifyInclusion, verifyLeaf } from './merkle.js';

/**
 * @typedef {import('./api.js').ConsoleSession} ConsoleSession
 * @typedef {{ session: ConsoleSession, signal?: AbortSignal }} ViewContext
 * @typedef {{ origin: string, treeSize: number, rootHash: string, checkpoint: string, signature: string,
 *   timestamp: string | null, timestampedAt: string | null, signedAt: string, note: string | null,
 *   cosignatures: { witness: string, time: string }[] }} Checkpoint
 * @typedef {import('./merkle.js').Verdict} Verdict
 */

/** Timestamping is said to lag when the newest entries have waited this long for a timestamp. */
export const TIMESTAMP_LAG_MINUTES = 10;

const UPSTREAMS = ['dvcqg', 'vneid', 'population', 'business-registry', 'tax', 'social-insurance', 'civil-status'];
const OUTCOMES = ['success', 'business_error', 'refused', 'failed', 'rejected', 'denied'];

/**
 * Why a proof was refused, in words.
 * @param {Verdict} verdict
 */
export function reasonText(verdict) {
  if (verdict.ok) return '';
  const key = `merkle.${verdict.reason}`;
  return hasMessage(key) ? t(key, verdict.detail ?? {}) : verdict.reason;
}

/** @returns {Promise<Checkpoint | null>} */
async function checkpoint(timestamped = false) {
  try {
    return await api('v1/audit/checkpoint', { query: { timestamped: timestamped ? 'true' : undefined } });
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

/**
 * @param {[string, string | number | Node][]} rows
 */
function definitions(rows) {
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** @param {string} hash */
function code(hash) {
  return h('code', { class: 'hash' }, hash);
}

/**
 * (a) The latest checkpoint, timestamping lag, witnesses, openssl commands, save and export.
 * @param {HTMLElement} main
 */
export async function checkpointView(main) {
  const [latest, timestamped] = await Promise.all([checkpoint(), checkpoint(true)]);
  if (!latest) {
    replace(main, h('h1', {}, t('checkpoint.title')), notice('info', t('checkpoint.none')));
    return;
  }
  const age = serverNow() - new Date(latest.signedAt).getTime();
  // Lag: how long the newest entries have been covered only by untimestamped checkpoints; with no
  // timestamped checkpoint at all, the log has no independent time yet, which is said too.
  const lagMs = timestamped ? new Date(latest.signedAt).getTime() - new Date(timestamped.signedAt).getTime() : age;
  const lagging = !timestamped || lagMs > TIMESTAMP_LAG_MINUTES * 60_000;
  const lag = formatDuration(Math.max(0, lagMs));
  replace(
    main,
    h('h1', {}, t('checkpoint.title')),
    h('p', { class: 'intro' }, t('checkpoint.intro')),
    !timestamped ? notice('warn', t('checkpoint.noTimestampWarning')) : lagging ? notice('warn', t('checkpoint.lagWarning', { lag })) : notice('ok', t('checkpoint.lagOk', { lag })),
    h('p', { class: 'hint' }, t('checkpoint.lagRule', { minutes: TIMESTAMP_LAG_MINUTES })),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'cp-latest' },
      h('h2', { id: 'cp-latest' }, t('checkpoint.latest')),
      definitions([
        [t('checkpoint.origin'), latest.origin],
        [t('checkpoint.treeSize'), formatNumber(latest.treeSize)],
        [t('checkpoint.rootHash'), code(latest.rootHash)],
        [t('checkpoint.signedAt'), formatTime(latest.signedAt)],
        [t('checkpoint.age'), formatDuration(age)],
        ...seals(latest),
      ]),
      latest.cosignatures.length ? [h('h3', {}, t('checkpoint.cosignatures')), table(t('checkpoint.cosignatures'), [t('checkpoint.witness'), t('checkpoint.cosignedAt')], latest.cosignatures.map((c) => [c.witness, formatTime(c.time)]), { captionHidden: true })] : null,
      h('button', { type: 'button', class: 'button', onclick: () => saveCheckpoint(latest) }, t('checkpoint.save')),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'cp-ts' },
      h('h2', { id: 'cp-ts' }, t('checkpoint.timestamped')),
      timestamped
        ? [
            definitions([
              [t('checkpoint.treeSize'), formatNumber(timestamped.treeSize)],
              [t('checkpoint.rootHash'), code(timestamped.rootHash)],
              [t('checkpoint.signedAt'), formatTime(timestamped.signedAt)],
              ...seals(timestamped),
            ]),
            h('h3', {}, t('checkpoint.cosignatures')),
            timestamped.cosignatures.length
              ? table(t('checkpoint.cosignatures'), [t('checkpoint.witness'), t('checkpoint.cosignedAt')], timestamped.cosignatures.map((c) => [c.witness, formatTime(c.time)]), { captionHidden: true })
              : h('p', {}, t('checkpoint.noCosignatures')),
            h('button', { type: 'button', class: 'button', onclick: () => saveCheckpoint(timestamped) }, t('checkpoint.saveTimestamped')),
          ]
        : h('p', {}, t('checkpoint.noTimestamped')),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'cp-verify' },
      h('h2', { id: 'cp-verify' }, t('checkpoint.verifyTitle')),
      h('p', {}, t('checkpoint.verifyIntro')),
      h(
        'pre',
        { tabindex: 0, 'aria-labelledby': 'cp-verify' },
        [
          'openssl cms -verify -binary -inform DER -content checkpoint.txt -in checkpoint.p7s \\',
          '  -CAfile your-root.pem -no-CApath -no-CAstore -certfile issuing-cas.pem -purpose any \\',
          '  -signer signer.pem -out /dev/null',
          'openssl x509 -in signer.pem -noout -fingerprint -sha256',
          'openssl ts -verify -data checkpoint.txt -in checkpoint.tst -token_in \\',
          '  -CAfile your-root.pem -untrusted issuing-cas.pem',
        ].join('\n'),
      ),
    ),
    exportSection(timestamped ?? latest),
  );
}

/**
 * The checkpoint's CMS signature and RFC 3161 timestamp: present or not. The browser does not
 * check either (that is openssl's or `lienthong audit verify`'s work, commands below).
 * @param {Checkpoint} cp
 * @returns {[string, Node][]}
 */
function seals(cp) {
  const signatureBytes = typeof cp.signature === 'string' && cp.signature ? Math.floor((cp.signature.replace(/=+$/, '').length * 3) / 4) : 0;
  return [
    [t('checkpoint.signature'), signatureBytes ? h('span', {}, h('span', { class: 'badge badge-info' }, t('checkpoint.signaturePresent', { bytes: formatNumber(signatureBytes) })), ' ', h('small', {}, t('checkpoint.signatureNotChecked'))) : h('span', { class: 'badge badge-bad' }, t('checkpoint.signatureMissing'))],
    [t('checkpoint.timestamp'), cp.timestamp ? h('span', { class: 'badge badge-ok' }, t('checkpoint.timestampPresent', { time: formatTime(cp.timestampedAt) })) : h('span', { class: 'badge badge-warn' }, t('checkpoint.timestampMissing'))],
  ];
}

/** @param {Checkpoint} cp */
function saveCheckpoint(cp) {
  download(`checkpoint-${cp.treeSize}.json`, `${JSON.stringify(cp, null, 2)}\n`, 'application/json');
}

/**
 * The file name a Content-Disposition header gives, if any.
 * @param {string | null} header
 */
export function dispositionName(header) {
  if (!header) return null;
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      // Then the plain one.
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;\s]+)/i.exec(header);
  const name = plain?.[1] ?? plain?.[2];
  // A name only, never a path.
  return name ? name.replace(/[\\/]/g, '_') : null;
}

/**
 * (e) The export bundle: fetched with the session's cookie, checked, and only then saved as a file
 * under the name the gateway gives; an error answer is shown, never saved as the bundle.
 * @param {Checkpoint} cp
 */
function exportSection(cp) {
  const from = h('input', { id: 'export-from', type: 'number', min: 0, value: 0, inputmode: 'numeric' });
  const to = h('input', { id: 'export-to', type: 'number', min: 1, placeholder: String(cp.treeSize), inputmode: 'numeric' });
  const status = h('div', { id: 'export-status' });
  const link = h('a', { class: 'button', href: '' }, t('checkpoint.exportLink'));
  const query = () => ({ from: from.value, to: to.value });
  const update = () => {
    link.href = apiUrl('v1/audit/export', query()).href;
  };
  let busy = false;
  link.addEventListener('click', async (e) => {
    e.preventDefault();
    if (busy) return;
    busy = true;
    link.setAttribute('aria-disabled', 'true');
    replace(status, h('p', {}, t('checkpoint.exportBusy')));
    try {
      /** @type {Response} */
      const response = await api('v1/audit/export', { query: query(), raw: true, headers: { accept: 'application/gzip, application/problem+json' } });
      const name = dispositionName(response.headers.get('content-disposition')) ?? `lienthong-audit-${from.value || 0}-${to.value || cp.treeSize}.tar.gz`;
      download(name, await response.blob());
      replace(status, notice('ok', t('checkpoint.exportSaved', { name })));
    } catch (err) {
      replace(status, errorNotice(err));
    } finally {
      busy = false;
      link.removeAttribute('aria-disabled');
    }
  });
  from.addEventListener('input', update);
  to.addEventListener('input', update);
  update();
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'cp-export' },
    h('h2', { id: 'cp-export' }, t('checkpoint.export')),
    h('p', {}, t('checkpoint.exportIntro')),
    h('div', { class: 'form-row' }, field(t('checkpoint.exportFrom'), from), field(t('checkpoint.exportTo'), to)),
    link,
    status,
  );
}

/** The entries page's filters, kept while the console is open (never in the URL: a subject is personal data). */
const filters = {
  operation: '',
  client: '',
  upstream: '',
  outcome: '',
  since: '',
  until: '',
  subject: '',
  purpose: '',
  from: 0,
  /** @type {number[]} */
  previous: [],
};

/**
 * A datetime-local value as typed, read as Vietnam time (the time every page shows), whatever the
 * browser's own time zone: 2026-03-01T08:30 → 2026-03-01T08:30:00+07:00.
 * @param {string} local
 */
export function vietnamInstant(local) {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2})?(\.\d+)?$/.exec(local);
  return m ? `${m[1]}${m[2] ?? ':00'}${m[3] ?? ''}+07:00` : '';
}

/**
 * @param {string} value
 * @param {string[]} options
 * @param {(v: string) => string} label
 * @param {string} id
 */
function select(id, value, options, label) {
  return h('select', { id }, h('option', { value: '' }, t('entries.any')), options.map((o) => h('option', { value: o, selected: o === value }, label(o))));
}

/** @param {string} outcome */
export function outcomeBadge(outcome) {
  const key = `outcome.${outcome}`;
  return h('span', { class: `badge badge-${outcome === 'success' ? 'ok' : outcome === 'business_error' ? 'info' : 'bad'}` }, hasMessage(key) ? t(key) : outcome);
}

/**
 * (b) Entries, filtered and paged with nextFrom.
 * @param {HTMLElement} main
 * @param {ViewContext} ctx
 */
export async function entriesView(main, ctx) {
  const operation = h('input', { id: 'f-operation', type: 'text', value: filters.operation, autocomplete: 'off' });
  const client = h('input', { id: 'f-client', type: 'text', value: filters.client, autocomplete: 'off' });
  const upstream = select('f-upstream', filters.upstream, UPSTREAMS, (u) => u);
  const outcome = select('f-outcome', filters.outcome, OUTCOMES, (o) => t(/** @type {any} */ (`outcome.${o}`)));
  const since = h('input', { id: 'f-since', type: 'datetime-local', step: 1, value: filters.since });
  const until = h('input', { id: 'f-until', type: 'datetime-local', step: 1, value: filters.until });
  const subject = h('input', { id: 'f-subject', type: 'text', value: filters.subject, autocomplete: 'off', spellcheck: 'false' });
  const purpose = h('select', { id: 'f-purpose' }, h('option', { value: '' }, '—'), ctx.session.purposes.map((p) => h('option', { value: p, selected: p === filters.purpose }, p)));
  const results = h('div', { id: 'entries-results' });

  const read = () => {
    Object.assign(filters, { operation: operation.value.trim(), client: client.value.trim(), upstream: upstream.value, outcome: outcome.value, since: since.value, until: until.value, subject: subject.value.trim(), purpose: purpose.value });
  };
  const form = h(
    'form',
    {
      class: 'card filters',
      'aria-labelledby': 'filters-title',
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        read();
        filters.from = 0;
        filters.previous = [];
        void load();
      },
    },
    h('h2', { id: 'filters-title' }, t('entries.filters')),
    h(
      'div',
      { class: 'form-grid' },
      field(t('entries.operation'), operation),
      field(t('entries.client'), client),
      field(t('entries.upstream'), upstream),
      field(t('entries.outcome'), outcome),
      field(t('entries.since'), since),
      field(t('entries.until'), until),
    ),
    h('fieldset', { class: 'subject' }, h('legend', {}, t('entries.bySubject')), h('p', { class: 'hint', id: 'subject-hint' }, t('entries.subjectHint')), h('div', { class: 'form-grid' }, field(t('entries.subject'), subject), field(t('entries.purpose'), purpose))),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'button primary' }, t('entries.search')),
      h(
        'button',
        {
          type: 'button',
          class: 'button',
          onclick: () => {
            Object.assign(filters, { operation: '', client: '', upstream: '', outcome: '', since: '', until: '', subject: '', purpose: '', from: 0, previous: [] });
            void entriesView(main, ctx);
          },
        },
        t('entries.reset'),
      ),
    ),
  );
  subject.setAttribute('aria-describedby', 'subject-hint');

  async function load() {
    if (filters.subject && !filters.purpose) {
      replace(results, notice('error', t('entries.purposeRequired')));
      purpose.focus();
      return;
    }
    replace(results, h('p', {}, t('app.loading')));
    try {
      /** @type {Record<string, string>} */
      const headers = filters.subject ? { 'x-purpose': filters.purpose } : {};
      const page = await api('v1/audit/entries', {
        query: { from: filters.from, limit: 50, operation: filters.operation, client: filters.client, upstream: filters.upstream, outcome: filters.outcome, since: vietnamInstant(filters.since), until: vietnamInstant(filters.until), subject: filters.subject },
        headers,
      });
      /** @type {any[]} */
      const items = page.items;
      const pager = h(
        'div',
        { class: 'pager' },
        filters.previous.length ? h('button', { type: 'button', class: 'button', onclick: () => go(/** @type {number} */ (filters.previous.pop()), false) }, t('app.previous')) : null,
        page.nextFrom !== null && items.length ? h('button', { type: 'button', class: 'button', onclick: () => go(page.nextFrom, true) }, t('app.next')) : null,
      );
      const summary = items.length ? t('entries.count', { count: items.length, from: filters.from }) : t('entries.empty');
      announce(summary);
      replace(
        results,
        items.length
          ? [
              h('p', {}, summary),
              table(
                t('entries.title'),
                [t('entries.index'), t('entries.time'), t('entries.client'), t('entries.operation'), t('entries.upstream'), t('entries.outcome'), t('entries.status')],
                items.map((e) => [h('a', { href: `#/entry/${e.index}`, 'aria-label': t('entries.open', { index: e.index }) }, String(e.index)), formatTime(e.time), e.client, e.operation, e.upstream ?? '—', outcomeBadge(e.outcome), String(e.status)]),
                { captionHidden: true },
              ),
            ]
          : h('p', {}, summary),
        pager,
      );
    } catch (e) {
      replace(results, errorNotice(e));
    }
  }
  /** @param {number} from @param {boolean} forward */
  function go(from, forward) {
    if (forward) filters.previous.push(filters.from);
    filters.from = from;
    void load();
  }

  replace(main, h('h1', {}, t('entries.title')), form, results);
  await load();
}

/**
 * A step of a proof check, shown as a line with ✓ or ✗.
 * @param {string} label
 * @param {boolean | null} ok null: not reached
 */
function step(label, ok) {
  return h('li', { class: ok === null ? 'step skipped' : ok ? 'step ok' : 'step bad' }, h('span', { class: 'mark', 'aria-hidden': 'true' }, ok === null ? '–' : ok ? '✓' : '✗'), label);
}

/**
 * A value in one canonical spelling (keys sorted at every depth), to compare two JSON values.
 * @param {unknown} value
 * @returns {string}
 */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const record = /** @type {Record<string, unknown>} */ (value);
    return `{${Object.keys(record)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(record[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

/**
 * The fields the server served beside the leaf that say something else than the leaf itself.
 * `time` is served in +07:00 and kept in the leaf as written: compared as instants
 * @param {Record<string, unknown>} served
 * @param {Record<string, unknown>} leafFields
 */
export function differingFields(served, leafFields) {
  return Object.keys(served).filter((k) => {
    // (the answer gives whole seconds; the leaf may keep milliseconds).
    if (k === 'time' && typeof served[k] === 'string' && typeof leafFields[k] === 'string') return Math.floor(Date.parse(String(served[k])) / 1000) !== Math.floor(Date.parse(String(leafFields[k])) / 1000);
    return !Object.hasOwn(leafFields, k) || canonical(served[k]) !== canonical(leafFields[k]);
  });
}

/**
 * (c) One entry and its inclusion proof, checked in this browser against the checkpoint root. What
 * is shown is the leaf, the bytes that were hashed, never the server's parsed copy beside it.
 * @param {HTMLElement} main
 * @param {ViewContext} _ctx
 * @param {string} indexText
 */
export async function entryView(main, _ctx, indexText) {
  const index = Number(indexText);
  if (!/^\d+$/.test(indexText ?? '') || !Number.isSafeInteger(index)) {
    replace(main, h('h1', {}, t('app.title')), notice('error', t('app.notFound')));
    return;
  }
  const back = h('p', {}, h('a', { href: '#/entries' }, `← ${t('entry.back')}`));
  const entry = await api(`v1/audit/entries/${index}`);
  const { leaf, leafHash: entryLeafHash, index: _servedIndex, ...served } = entry;
  /** @type {Record<string, unknown> | null} */
  let leafFields = null;
  try {
    const parsed = JSON.parse(String(leaf));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) leafFields = parsed;
  } catch {
    // Shown as unreadable below; the hash check still says whether these bytes are the log's.
  }
  const differing = leafFields ? differingFields(served, leafFields) : [];
  const cp = await checkpoint();
  const proofSection = h('section', { class: 'card', 'aria-labelledby': 'proof-title' }, h('h2', { id: 'proof-title' }, t('entry.proof')), h('p', {}, t('entry.proofIntro')));
  replace(
    main,
    back,
    h('h1', {}, t('entry.title', { index })),
    proofSection,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'entry-fields' },
      h('h2', { id: 'entry-fields' }, t('entry.fields')),
      differing.length ? notice('error', t('entry.fieldsDiffer', { fields: differing.join(', ') })) : null,
      leafFields ? h('pre', { tabindex: 0, 'aria-labelledby': 'entry-fields' }, JSON.stringify({ index, ...leafFields }, null, 2)) : notice('error', t('entry.leafUnreadable')),
    ),
    h('section', { class: 'card', 'aria-labelledby': 'entry-leaf' }, h('h2', { id: 'entry-leaf' }, t('entry.leaf')), h('pre', { tabindex: 0, class: 'wrap', 'aria-labelledby': 'entry-leaf' }, String(leaf)), h('p', { class: 'hint' }, 'leafHash: ', code(String(entryLeafHash)))),
  );
  if (!cp || index >= cp.treeSize) {
    proofSection.append(notice('info', t('entry.notYet')));
    announce(t('entry.notYet'));
    return;
  }
  const proof = await api(`v1/audit/entries/${index}/proof`, { query: { treeSize: cp.treeSize } });
  const result = await checkEntry(index, leaf, entryLeafHash, proof, cp);
  const fieldsOk = leafFields !== null && differing.length === 0;
  /** @type {Verdict} */
  const verdict = !result.verdict.ok ? result.verdict : !leafFields ? { ok: false, reason: 'leaf-unreadable' } : differing.length ? { ok: false, reason: 'fields-differ', detail: { fields: differing.join(', ') } } : result.verdict;
  const verdictText = verdict.ok ? t('entry.verified', { root: cp.rootHash }) : t('entry.refused', { why: reasonText(verdict) });
  proofSection.append(
    h(
      'ol',
      { class: 'steps' },
      step(t('entry.stepLeaf'), result.leafOk),
      step(t('entry.stepPath', { count: Array.isArray(proof.auditPath) ? proof.auditPath.length : 0, size: formatNumber(cp.treeSize) }), result.pathOk),
      step(t('entry.stepRoot', { size: formatNumber(cp.treeSize) }), result.pathOk),
      step(t('entry.stepFields'), fieldsOk),
    ),
    h('p', { class: verdict.ok ? 'verdict verdict-ok' : 'verdict verdict-bad', 'data-verdict': verdict.ok ? 'verified' : 'refused' }, verdictText),
    verdict.ok ? h('p', { class: 'hint' }, t('entry.signatureNote')) : '',
    definitions([
      [t('entry.checkpointRoot'), code(cp.rootHash)],
      [t('checkpoint.treeSize'), formatNumber(cp.treeSize)],
      [t('checkpoint.signedAt'), formatTime(cp.signedAt)],
    ]),
    h('h3', {}, t('entry.auditPath')),
    h('ol', { class: 'hash-list', start: 0 }, (Array.isArray(proof.auditPath) ? proof.auditPath : []).map((/** @type {string} */ p) => h('li', {}, code(String(p))))),
  );
  announce(verdictText);
}

/**
 * The whole check of an entry: its leaf, the proof's claims, and the path up to the signed root.
 * @param {number} index
 * @param {string} leaf
 * @param {string} entryLeafHash
 * @param {{ index: number, treeSize: number, leafHash: string, auditPath: unknown }} proof
 * @param {Checkpoint} cp
 * @returns {Promise<{ verdict: Verdict, leafOk: boolean, pathOk: boolean | null }>}
 */
export async function checkEntry(index, leaf, entryLeafHash, proof, cp) {
  const leafVerdict = await verifyLeaf(leaf, entryLeafHash);
  if (!leafVerdict.ok) return { verdict: leafVerdict, leafOk: false, pathOk: null };
  if (proof.leafHash !== entryLeafHash) return { verdict: { ok: false, reason: 'proof-leaf-mismatch', detail: { expected: String(proof.leafHash) } }, leafOk: true, pathOk: false };
  if (proof.treeSize !== cp.treeSize) return { verdict: { ok: false, reason: 'size-mismatch', detail: { got: proof.treeSize, want: cp.treeSize } }, leafOk: true, pathOk: false };
  // The hash recomputed here, not the one served, goes up the path.
  const computed = encodeHash(await leafHash(leaf));
  const verdict = await verifyInclusion(computed, index, cp.treeSize, proof.auditPath, cp.rootHash);
  return { verdict, leafOk: true, pathOk: verdict.ok };
}

/**
 * (d) Consistency between a checkpoint saved earlier and the latest one.
 * @param {HTMLElement} main
 */
export async function consistencyView(main) {
  const file = h('input', { id: 'c-file', type: 'file', accept: 'application/json,.json' });
  const size = h('input', { id: 'c-size', type: 'number', min: 1, inputmode: 'numeric' });
  const root = h('input', { id: 'c-root', type: 'text', autocomplete: 'off', spellcheck: 'false', class: 'mono' });
  const result = h('div', { id: 'consistency-result' });
  file.addEventListener('change', async () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    try {
      const saved = JSON.parse(await chosen.text());
      if (!Number.isSafeInteger(saved?.treeSize) || typeof saved?.rootHash !== 'string') throw new Error('shape');
      size.value = String(saved.treeSize);
      root.value = saved.rootHash;
      replace(result);
    } catch {
      replace(result, notice('error', t('consistency.badFile')));
    }
  });
  const form = h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'c-form-title',
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        const first = Number(size.value);
        const firstRoot = root.value.trim();
        if (!size.value || !firstRoot) {
          replace(result, notice('error', t('consistency.missing')));
          return;
        }
        replace(result, h('p', {}, t('app.loading')));
        try {
          const latest = await checkpoint();
          if (!latest) throw new Error(t('checkpoint.none'));
          /** @type {Verdict} */
          let verdict;
          /** @type {string[]} */
          let path = [];
          if (!Number.isSafeInteger(first) || first < 1) verdict = { ok: false, reason: 'bad-size' };
          else if (first > latest.treeSize) verdict = { ok: false, reason: 'first-after-second', detail: { first, second: latest.treeSize } };
          else {
            const proof = await api('v1/audit/consistency', { query: { first, second: latest.treeSize } });
            path = Array.isArray(proof.proof) ? proof.proof : [];
            // The saved root and the latest checkpoint's root, never the roots the proof answer names.
            verdict = proof.first !== first || proof.second !== latest.treeSize ? { ok: false, reason: 'size-mismatch', detail: { got: `${proof.first}→${proof.second}`, want: `${first}→${latest.treeSize}` } } : await verifyConsistency(first, latest.treeSize, firstRoot, latest.rootHash, proof.proof);
          }
          const verdictText = verdict.ok ? t('consistency.verified', { first: formatNumber(first), second: formatNumber(latest.treeSize), root: latest.rootHash }) : t('consistency.refused', { why: reasonText(verdict) });
          announce(verdictText);
          replace(
            result,
            h('p', { class: verdict.ok ? 'verdict verdict-ok' : 'verdict verdict-bad', 'data-verdict': verdict.ok ? 'verified' : 'refused' }, verdictText),
            verdict.ok ? h('p', { class: 'hint' }, t('entry.signatureNote')) : null,
            definitions([
              [t('consistency.saved'), h('span', {}, `${formatNumber(first)} · `, code(firstRoot))],
              [t('consistency.latest'), h('span', {}, `${formatNumber(latest.treeSize)} · `, code(latest.rootHash), ` · ${formatTime(latest.signedAt)}`)],
              [t('consistency.proofLength', { count: path.length }), h('ol', { class: 'hash-list', start: 0 }, path.map((p) => h('li', {}, code(p))))],
            ]),
          );
        } catch (err) {
          replace(result, errorNotice(err));
        }
      },
    },
    h('h2', { id: 'c-form-title' }, t('consistency.check')),
    field(t('consistency.file'), file),
    h('p', { class: 'or' }, t('consistency.or')),
    h('div', { class: 'form-grid' }, field(t('consistency.treeSize'), size), field(t('consistency.rootHash'), root)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, t('consistency.check'))),
  );
  replace(main, h('h1', {}, t('consistency.title')), h('p', { class: 'intro' }, t('consistency.intro')), form, result);
}

/**
 * (f) A subject's accesses, with an audit purpose.
 * @param {HTMLElement} main
 * @param {ViewContext} ctx
 */
export async function accessesView(main, ctx) {
  const subject = h('input', { id: 'a-subject', type: 'text', autocomplete: 'off', spellcheck: 'false', required: true });
  const purpose = h('select', { id: 'a-purpose', required: true }, h('option', { value: '' }, '—'), ctx.session.purposes.map((p) => h('option', { value: p }, p)));
  const result = h('div', { id: 'accesses-result' });
  /** @param {number | null} before */
  async function load(before) {
    // A purpose chosen, not one picked for the officer: the search is itself processing of personal data.
    if (!purpose.value || !subject.value.trim()) {
      const missing = !subject.value.trim() ? subject : purpose;
      replace(result, notice('error', t(missing === subject ? 'accesses.subjectRequired' : 'entries.purposeRequired')));
      missing.focus();
      return;
    }
    replace(result, h('p', {}, t('app.loading')));
    try {
      const page = await api('v1/subjects/accesses', { query: { subject: subject.value.trim(), before, limit: 50 }, headers: { 'x-purpose': purpose.value } });
      /** @type {any[]} */
      const items = page.items;
      announce(items.length ? t('accesses.count', { count: items.length }) : t('accesses.empty'));
      replace(
        result,
        h('p', {}, page.subject?.type ? t('accesses.subjectLabel', { masked: page.subject.maskedIdentifier ?? '', type: t(page.subject.type === 'person' ? 'accesses.person' : 'accesses.organization') }) : t('accesses.subjectMasked', { masked: page.subject?.maskedIdentifier ?? '' })),
        items.length
          ? table(
              t('accesses.title'),
              [t('entries.index'), t('entries.time'), t('accesses.agency'), t('entries.client'), t('accesses.summary'), t('entries.upstream'), t('accesses.purpose'), t('entries.outcome'), t('accesses.officer')],
              items.map((a) => [String(a.index), formatTime(a.time), a.agency, a.client, h('span', { lang: 'en' }, a.summary ?? a.operation), a.upstream ?? '—', [a.purpose ?? '—', a.purposeDescription ? h('br') : null, a.purposeDescription ? h('small', {}, a.purposeDescription) : null], outcomeBadge(a.outcome), a.officer ?? '—']),
              { captionHidden: true },
            )
          : h('p', {}, t('accesses.empty')),
        page.nextBefore !== null && page.nextBefore !== undefined ? h('button', { type: 'button', class: 'button', onclick: () => load(page.nextBefore) }, t('accesses.more')) : null,
      );
    } catch (e) {
      replace(result, errorNotice(e));
    }
  }
  const form = h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'a-form-title',
      novalidate: true,
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        void load(null);
      },
    },
    h('h2', { id: 'a-form-title' }, t('accesses.search')),
    h('div', { class: 'form-grid' }, field(t('accesses.subject'), subject), field(t('entries.purpose'), purpose, t('entries.subjectHint'))),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, t('accesses.search'))),
  );
  replace(main, h('h1', {}, t('accesses.title')), h('p', { class: 'intro' }, t('accesses.intro')), form, result);
}
