// @ts-check
/**
 * The console's shell: sign-in, the session, the language, the navigation by role and the pages.
 * Pages are addressed by the URL fragment (#/checkpoint…), so the console needs no server routes
 * beyond its page and works under any path prefix.
 */

import { ApiError, currentSession, serverNow, signIn, signOut, whenSessionEnds } from './api.js';
import { accessesView, checkpointView, consistencyView, entriesView, entryView } from './auditor.js';
import { errorNotice, errorText, field, h, notice, replace } from './dom.js';
import { initialLanguage, language, setLanguage, t } from './i18n.js';
import { outboxView, upstreamsView } from './operator.js';
import { serviceIndexView } from './service-index.js';

/** @typedef {import('./api.js').ConsoleSession} ConsoleSession */
/** @typedef {{ session: ConsoleSession, signal: AbortSignal }} ViewContext signal: aborted when the page is left */
/** @typedef {(main: HTMLElement, ctx: ViewContext, ...params: string[]) => Promise<void>} View */
/** @typedef {{ path: string, label: import('./i18n.js').MessageKey, role: 'auditor' | 'operator', view: View }} Page */

/** @type {Page[]} */
const PAGES = [
  { path: 'checkpoint', label: 'nav.checkpoint', role: 'auditor', view: checkpointView },
  { path: 'entries', label: 'nav.entries', role: 'auditor', view: entriesView },
  { path: 'consistency', label: 'nav.consistency', role: 'auditor', view: consistencyView },
  { path: 'accesses', label: 'nav.accesses', role: 'auditor', view: accessesView },
  { path: 'upstreams', label: 'nav.upstreams', role: 'operator', view: upstreamsView },
  { path: 'outbox', label: 'nav.outbox', role: 'operator', view: outboxView },
  { path: 'index', label: 'nav.index', role: 'operator', view: serviceIndexView },
];

/** @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {ConsoleSession | null} */
let session = null;
/** When the session ends unless used again (moved on every call), and at the latest. */
let idleMs = 0;
let lastUse = 0;
/** @type {ReturnType<typeof setInterval> | undefined} */
let expiryTimer;
/** A message for the sign-in page (why the user is there). */
/** @type {import('./i18n.js').MessageKey | null} */
let signInReason = null;
/** Why the session already open could not be checked at start (shown on the sign-in page, with a retry). */
/** @type {unknown} */
let sessionCheckError = null;
/** Each render counts one up; only the current one may still write (an older page's late answer may not). */
let generation = 0;
/** @type {AbortController | null} */
let renderController = null;
/** What the navigation was built for (language and pages): rebuilt only when that changes, so focus stays on its links. */
let navKey = '';

function main() {
  return byId('main');
}

/** Sets the texts that live in index.html, and the page's language. */
function applyStaticTexts() {
  document.documentElement.lang = language();
  document.title = t('app.title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(/** @type {any} */ (el.getAttribute('data-i18n')));
  byId('nav').setAttribute('aria-label', t('app.nav'));
  const select = /** @type {HTMLSelectElement} */ (byId('lang'));
  select.value = language();
  for (const option of select.options) option.textContent = t(/** @type {any} */ (`lang.${option.value}`));
}

function renderHeader() {
  const info = byId('session-info');
  const out = byId('signout');
  if (!session) {
    replace(info);
    out.hidden = true;
    byId('nav').hidden = true;
    replace(byId('nav'));
    navKey = '';
    return;
  }
  replace(
    info,
    h('span', {}, t('session.user', { user: session.userId, client: session.client })),
    h('span', { class: 'muted' }, t('session.roles', { roles: session.roles.map((r) => (r === 'auditor' || r === 'operator' ? t(`role.${r}`) : r)).join(', ') })),
  );
  out.textContent = t('session.signout');
  out.hidden = false;
  const nav = byId('nav');
  nav.hidden = false;
  const pages = pagesFor(session);
  const key = `${language()}|${pages.map((p) => p.path).join(',')}`;
  if (key !== navKey) {
    navKey = key;
    replace(nav, h('ul', {}, pages.map((p) => h('li', {}, h('a', { href: `#/${p.path}`, 'data-page': p.path }, t(p.label))))));
  }
  // The links stay; only which one is current moves.
  const current = route().path;
  for (const link of nav.querySelectorAll('a[data-page]')) {
    const path = link.getAttribute('data-page');
    if (path === current || (path === 'entries' && current === 'entry')) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

/** @param {ConsoleSession} s */
function pagesFor(s) {
  return PAGES.filter((p) => s.roles.includes(p.role));
}

/** @returns {{ path: string, params: string[], malformed: boolean }} */
function route() {
  const [path = '', ...params] = location.hash.replace(/^#\/?/, '').split('/');
  try {
    return { path, params: params.map(decodeURIComponent), malformed: false };
  } catch {
    // A fragment such as #/entry/%E0%A4%A (URIError): no page has that name.
    return { path, params: [], malformed: true };
  }
}

/** Focus to the page's heading, so keyboard and screen-reader users start at the new page. */
function focusHeading(/** @type {HTMLElement} */ container) {
  const heading = container.querySelector('h1');
  if (!heading) {
    main().focus();
    return;
  }
  heading.tabIndex = -1;
  heading.focus();
}

/**
 * Renders the page the fragment names, or the session's first page.
 * @param {boolean} [focus] move focus to the new page's heading (after a route change)
 */
async function render(focus = false) {
  const current = ++generation;
  renderController?.abort();
  const controller = new AbortController();
  renderController = controller;
  replace(byId('app-message'));
  const el = main();
  el.removeAttribute('aria-busy');
  if (session && !route().path && !route().malformed) {
    // The session's first page, without a second render from a hashchange.
    const first = pagesFor(session)[0];
    if (first) history.replaceState(null, '', `${location.pathname}${location.search}#/${first.path}`);
  }
  applyStaticTexts();
  renderHeader();
  if (!session) {
    renderSignIn();
    return;
  }
  const { path, params, malformed } = route();
  const pages = pagesFor(session);
  const page = malformed ? undefined : path === 'entry' && session.roles.includes('auditor') ? { view: /** @type {View} */ (entryView) } : pages.find((p) => p.path === path);
  if (!page) {
    replace(el, h('h1', {}, t('app.title')), notice('error', t('app.notFound')));
    if (focus) focusHeading(el);
    return;
  }
  // Each render writes into a container of its own: once a newer render has replaced it, an
  // older page's late answer lands in a detached element, never over the newer page.
  const view = h('div', { class: 'view' }, h('p', {}, t('app.loading')));
  replace(el, view);
  el.setAttribute('aria-busy', 'true');
  try {
    await page.view(view, { session, signal: controller.signal }, ...params);
  } catch (e) {
    if (current === generation && session && !controller.signal.aborted) replace(view, h('h1', {}, t('app.title')), errorNotice(e));
  } finally {
    if (current === generation) {
      el.removeAttribute('aria-busy');
      if (focus && session) focusHeading(view);
    }
  }
}

function renderSignIn() {
  const key = h('input', { id: 'signin-key', name: 'apiKey', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const user = h('input', { id: 'signin-user', name: 'userId', type: 'text', autocomplete: 'username', required: true, maxlength: 128 });
  const message = h(
    'div',
    { id: 'signin-message' },
    sessionCheckError ? notice('error', t('signin.checkFailed'), ' ', errorText(sessionCheckError), ' ', h('button', { type: 'button', class: 'button small', id: 'session-retry', onclick: () => void checkSession() }, t('app.retry'))) : null,
    signInReason ? notice(signInReason === 'signin.expired' ? 'warn' : 'info', t(signInReason)) : null,
  );
  const submit = h('button', { type: 'submit', class: 'button primary' }, t('signin.submit'));
  const form = h(
    'form',
    {
      class: 'card signin',
      'aria-labelledby': 'signin-title',
      novalidate: true,
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        const missing = !key.value ? key : !user.value.trim() ? user : null;
        if (missing) {
          replace(message, notice('error', t('signin.required', { field: missing === key ? t('signin.apiKey') : t('signin.userId') })));
          missing.focus();
          return;
        }
        submit.disabled = true;
        submit.textContent = t('signin.busy');
        try {
          const started = await signIn(key.value, user.value.trim());
          // The key is not needed any more: out of the field, and the form out of the page.
          key.value = '';
          form.reset();
          signInReason = null;
          sessionCheckError = null;
          start(started);
          // Once: render() puts the first page in the fragment itself, without a hashchange.
          await render(true);
        } catch (err) {
          key.value = '';
          submit.disabled = false;
          submit.textContent = t('signin.submit');
          const text = err instanceof ApiError && err.status === 401 ? t('signin.wrongKey') : err instanceof ApiError && err.status === 403 ? t('signin.notStaff') : null;
          replace(message, text ? notice('error', t('signin.failed', { message: text })) : errorNotice(err));
          key.focus();
        }
      },
    },
    h('h1', { id: 'signin-title' }, t('signin.title')),
    h('p', {}, t('signin.intro')),
    message,
    field(t('signin.apiKey'), key),
    field(t('signin.userId'), user, t('signin.userIdHint')),
    h('div', { class: 'actions' }, submit),
  );
  replace(main(), form);
}

/** @param {ConsoleSession} s */
function start(s) {
  session = s;
  // Both expiries are server times: compared with the server's clock as the last answer gave it.
  lastUse = serverNow();
  idleMs = Math.max(0, new Date(s.idleExpiresAt).getTime() - lastUse);
  clearInterval(expiryTimer);
  expiryTimer = setInterval(() => {
    if (!session) return;
    const now = serverNow();
    if (now >= new Date(session.expiresAt).getTime() || now >= lastUse + idleMs) ended('signin.expired');
  }, 5000);
}

/** @param {import('./i18n.js').MessageKey} reason */
function ended(reason) {
  session = null;
  clearInterval(expiryTimer);
  signInReason = reason;
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  void render();
}

async function boot() {
  initialLanguage();
  applyStaticTexts();
  byId('lang').addEventListener('change', (e) => {
    setLanguage(/** @type {HTMLSelectElement} */ (e.target).value === 'en' ? 'en' : 'vi');
    void render();
  });
  byId('signout').addEventListener('click', () => void signOutHere());
  // The skip link moves focus without touching the fragment, which names the page.
  byId('skip-link').addEventListener('click', (e) => {
    e.preventDefault();
    main().focus();
  });
  whenSessionEnds(() => {
    if (session) ended('signin.expired');
  });
  window.addEventListener('hashchange', () => void render(true));
  // Every call that answers keeps the session alive on the server; count it here too.
  window.addEventListener('lienthong:api-used', () => {
    lastUse = serverNow();
  });
  await checkSession();
}

/** Asks whether this browser's cookie names a session; if that cannot be known, the sign-in page says so and offers a retry. */
async function checkSession() {
  try {
    const existing = await currentSession();
    sessionCheckError = null;
    if (existing) start(existing);
  } catch (e) {
    sessionCheckError = e;
  }
  await render();
}

/**
 * Signs out. Only the server's answer (2xx, or 401: already ended) counts: with no answer the
 * session may be alive, and a reload would be signed in again, so it is kept and the error shown.
 */
async function signOutHere() {
  const button = /** @type {HTMLButtonElement} */ (byId('signout'));
  const box = byId('app-message');
  const retried = document.activeElement?.id === 'signout-retry';
  replace(box);
  button.disabled = true;
  try {
    await signOut();
  } catch (e) {
    button.disabled = false;
    const retry = h('button', { type: 'button', class: 'button small', id: 'signout-retry', onclick: () => void signOutHere() }, t('app.retry'));
    replace(box, notice('error', t('signout.failed'), ' ', errorText(e), ' ', retry));
    if (retried) retry.focus();
    return;
  }
  button.disabled = false;
  ended('signin.signedOut');
}

void boot();

