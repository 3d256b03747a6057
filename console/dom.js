// @ts-check
/** Small DOM helpers: elements are built with text nodes only, never from HTML strings. */

import { NetworkError } from './api.js';
import { language, locale, t } from './i18n.js';

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {Child | ChildList} Children
 * @typedef {Children[]} ChildList
 * @typedef {Record<string, string | number | boolean | null | undefined | EventListener>} Attrs
 */

/**
 * Creates an element. `on<event>` attributes become listeners; `true` sets a boolean attribute.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...Children} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} el
 * @param {Children[]} children
 */
function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replaces an element's content.
 * @param {Element} el
 * @param {...Children} children
 */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const VN = 'Asia/Ho_Chi_Minh';

/**
 * A time in Vietnam time, in the console's language.
 * @param {string | null | undefined} iso
 */
export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(locale(), { timeZone: VN, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(date);
}

/**
 * A duration such as "3 phút 12 giây" / "3 min 12 s".
 * @param {number} ms
 */
export function formatDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  const vi = language() === 'vi';
  const units = vi ? { d: 'ngày', h: 'giờ', m: 'phút', s: 'giây' } : { d: 'd', h: 'h', m: 'min', s: 's' };
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  /** @type {string[]} */
  const parts = [];
  if (d) parts.push(`${d} ${units.d}`);
  if (hh) parts.push(`${hh} ${units.h}`);
  if (mm && !d) parts.push(`${mm} ${units.m}`);
  if (!d && !hh) parts.push(`${ss} ${units.s}`);
  return parts.join(' ');
}

/**
 * @param {number} n
 * @param {Intl.NumberFormatOptions} [options]
 */
export function formatNumber(n, options = {}) {
  return new Intl.NumberFormat(locale(), options).format(n);
}

/**
 * A status message, announced to screen readers.
 * @param {'ok' | 'warn' | 'error' | 'info'} kind
 * @param {...Children} children
 */
export function notice(kind, ...children) {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

/**
 * What went wrong, in words: no answer at all, or what the answer said.
 * @param {unknown} e
 */
export function errorText(e) {
  const message = e instanceof NetworkError ? t('app.networkError') : e instanceof Error ? e.message : String(e);
  return t('app.error', { message });
}

/** @param {unknown} e */
export function errorNotice(e) {
  return notice('error', errorText(e));
}

/**
 * Says `text` through the page's one live region (index.html has it, empty, from the start, so
 * screen readers follow it; regions added with their content are often not read).
 * @param {string} text
 */
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // Emptied first and filled a moment later: the same sentence twice is read twice.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/**
 * A table with a caption and column headers.
 * @param {string} caption
 * @param {string[]} headers
 * @param {Children[][]} rows
 * @param {{ captionHidden?: boolean }} [options]
 */
export function table(caption, headers, rows, options = {}) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', { class: options.captionHidden ? 'visually-hidden' : null }, caption),
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))),
    ),
  );
}

/**
 * A labelled form field. Returns the wrapper; the control is inside.
 * @param {string} label
 * @param {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} control must have an id
 * @param {string} [hint]
 */
export function field(label, control, hint) {
  const hintId = hint ? `${control.id}-hint` : null;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

/**
 * Offers `data` as a file to download.
 * @param {string} name
 * @param {string | Blob} data
 * @param {string} [type]
 */
export function download(name, data, type) {
  const url = URL.createObjectURL(typeof data === 'string' ? new Blob([data], { type }) : data);
  const a = h('a', { href: url, download: name, class: 'visually-hidden' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
