import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, chromiumArgs } from '../helpers/chromium.ts';
import { QUICK_OUTBOX, eventually, fixtureAt, sampleDossier, statusEvent } from '../helpers/dossiers.ts';
import { KEYS, clearFaults, setFault, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { people } from '../../src/sandbox/personas.ts';

/**
 * The console's main journeys in a real Chromium against a real gateway and sandbox, with the
 * console's Content-Security-Policy enforced (axe-core is evaluated through the DevTools protocol,
 * which the policy does not govern). Each journey writes a full-page screenshot to
 * test-results/console/.
 */

const found = findChromium();
if (!found.executablePath) console.log(`Skipping the console's browser tests: ${found.reason}`);

const SHOTS = resolve('test-results/console');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

let gw: TestGateway;
let browser: Browser;
let host: string;
const downloads = mkdtempSync(join(tmpdir(), 'lienthong-console-'));
/** Every URL any page asked for, and every policy violation any page reported. */
const requested: string[] = [];
const violations: string[] = [];

async function newContext(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh', acceptDownloads: true });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (globalThis as unknown as { cspViolations: string[] }).cspViolations ??= [];
      (globalThis as unknown as { cspViolations: string[] }).cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.on('request', (r) => requested.push(r.url()));
  page.on('console', (m) => {
    if (/content security policy/i.test(m.text())) violations.push(m.text());
  });
  page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
  return { context, page };
}

async function shot(page: Page, name: string): Promise<void> {
  // Let fonts and charts settle, then the whole page.
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

/** axe-core on the page as it is: no serious or critical violation. */
async function axe(page: Page, where: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(AXE_SOURCE);
  const results = (await page.evaluate(() =>
    (globalThis as unknown as { axe: { run(ctx: Document, o: object): Promise<unknown> } }).axe.run(document, { resultTypes: ['violations'] }),
  )) as { violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] };
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad, `axe on ${where}`).toEqual([]);
}

async function pageViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (globalThis as unknown as { cspViolations?: string[] }).cspViolations ?? []);
}

async function signIn(page: Page, key: string, userId: string): Promise<void> {
  await page.goto(`${gw.url}/console`);
  await page.locator('#signin-key').fill(key);
  await page.locator('#signin-user').fill(userId);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.locator('#signout').waitFor({ state: 'visible' });
}

/** A copy of a base64 hash with one bit of one byte flipped. */
function flip(hash: string): string {
  const bytes = Buffer.from(hash, 'base64');
  bytes[5]! ^= 0x01;
  return bytes.toString('base64');
}

async function latestTreeSize(): Promise<number> {
  const res = await gw.fetch('/v1/audit/checkpoint', { key: KEYS.auditor });
  return res.status === 200 ? ((await res.json()) as { treeSize: number }).treeSize : 0;
}

describe.skipIf(!found.executablePath)('the console in a real browser', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    gw = await startTestGateway({ ...QUICK_OUTBOX, 'audit.timestampEverySeconds': 2 });
    host = new URL(gw.url).host;
    // Vietnamese for the browser's own widgets too (the month pickers).
    browser = await chromium.launch({ executablePath: found.executablePath!, args: [...chromiumArgs(), '--lang=vi'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await clearFaults(gw.controlUrl).catch(() => undefined);
    await gw?.close();
  });

  it('serves the console with its Content-Security-Policy and no inline script or style', async () => {
    const res = await fetch(`${gw.url}/console`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(CSP);
    const html = await res.text();
    expect(html).not.toMatch(/<style|\sstyle=|<script(?![^>]*\ssrc=)/i);
    expect(html).not.toMatch(/https?:\/\//);
    // One live region, in the page and empty from the start: verdicts and summaries are said through it.
    expect(html).toMatch(/<div id="announcer"[^>]*aria-live="polite"[^>]*><\/div>/);
    for (const src of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      if (src[1]!.startsWith('data:')) continue;
      const asset = await fetch(new URL(src[1]!, `${gw.url}/console`));
      expect(asset.status, src[1]).toBe(200);
      expect(asset.headers.get('content-security-policy')).toBe(CSP);
    }
    expect((await fetch(`${gw.url}/console/vendor/chart.umd.min.js`)).status).toBe(200);
  });

  describe('an auditor', () => {
    let context: BrowserContext;
    let page: Page;
    let savedCheckpoint: string;
    let savedSize: number;
    beforeAll(async () => {
      ({ context, page } = await newContext());
    });
    afterAll(async () => {
      await context?.close();
    });

    it('signs in with the keyboard alone, and the key is kept nowhere', async () => {
      await page.goto(`${gw.url}/console`);
      await page.locator('#signin-key').waitFor();
      expect(await page.locator('html').getAttribute('lang')).toBe('vi');
      await shot(page, '01-sign-in.png');
      await axe(page, 'the sign-in page');
      let focused = '';
      for (let i = 0; i < 10 && focused !== 'signin-key'; i++) {
        await page.keyboard.press('Tab');
        focused = await page.evaluate(() => document.activeElement?.id ?? '');
      }
      expect(focused).toBe('signin-key');
      // The focus is visible.
      expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe('none');
      await page.keyboard.type(KEYS.auditor);
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('signin-user');
      await page.keyboard.type('thanhtra-0007');
      // The first page is rendered once: one pair of checkpoint reads (latest, timestamped), so one
      // pair of exchange-log entries, not two.
      const checkpointReads: string[] = [];
      const countReads = (r: { url(): string }) => {
        if (/\/v1\/audit\/checkpoint/.test(r.url())) checkpointReads.push(r.url());
      };
      page.on('request', countReads);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Điểm kiểm tra của nhật ký trao đổi' }).waitFor();
      await page.waitForTimeout(500);
      page.off('request', countReads);
      expect(checkpointReads).toHaveLength(2);
      // Focus on the new page's heading.
      expect(await page.evaluate(() => (document.activeElement?.tagName ?? '') + ' ' + (document.activeElement?.textContent ?? ''))).toBe('H1 Điểm kiểm tra của nhật ký trao đổi');
      // Pages by role: the auditor's only.
      const nav = await page.getByRole('navigation').getByRole('link').allTextContents();
      expect(nav).toEqual(['Điểm kiểm tra', 'Nhật ký trao đổi', 'Kiểm tra nhất quán', 'Ai đã tra cứu']);
      // Neither the key nor the CSRF token is in the page or in any storage a script can read.
      const { csrfToken } = await page.evaluate(async () => (await fetch('v1/console/sessions/current')).json());
      expect(csrfToken).toMatch(/.{16,}/);
      expect(await page.content()).not.toContain(KEYS.auditor);
      expect(page.url()).not.toContain(KEYS.auditor);
      const kept = await page.evaluate(() => ({
        keyField: (document.getElementById('signin-key') as HTMLInputElement | null)?.value ?? '',
        inputs: Array.from(document.querySelectorAll('input, textarea, select')).map((el) => (el as HTMLInputElement).value),
        local: JSON.stringify({ ...localStorage }),
        session: JSON.stringify({ ...sessionStorage }),
        cookie: document.cookie,
        url: location.href,
      }));
      expect(kept.keyField).toBe('');
      for (const where of [kept.inputs.join('\n'), kept.local, kept.session, kept.cookie, kept.url]) {
        expect(where).not.toContain(KEYS.auditor);
        expect(where).not.toContain(csrfToken);
      }
    });

    it('sees the latest checkpoint, its timestamp and witnesses, and saves it', async () => {
      // A log of a few entries (searches are entries), and the sandbox TSA stamps every 2 s here:
      // wait for a timestamped checkpoint, then reload.
      for (let i = 0; i < 5; i++) await gw.fetch('/v1/audit/entries?limit=2', { key: KEYS.auditor });
      await eventually(async () => ((await latestTreeSize()) >= 6 ? true : undefined), 15_000, 'a checkpoint of six entries');
      await eventually(async () => ((await gw.fetch('/v1/audit/checkpoint?timestamped=true', { key: KEYS.auditor })).status === 200 ? true : undefined), 20_000, 'a timestamped checkpoint');
      await page.reload();
      const main = page.getByRole('main');
      await main.getByRole('heading', { name: 'Điểm kiểm tra có dấu thời gian mới nhất' }).waitFor();
      await expect.poll(() => main.textContent()).toContain('Số bản ghi (kích thước cây)');
      const text = (await main.textContent())!;
      expect(text).toContain('Quy tắc cảnh báo');
      expect(text).toContain('openssl cms -verify');
      expect(text).toMatch(/Đóng dấu thời gian bình thường \(chậm (\d+ (giờ|phút|giây) ?)+\)/);
      // The signature and the timestamp: present, said plainly, and not claimed as checked here.
      expect(text).toMatch(/Chữ ký CMScó \([\d.]+ byte\)/);
      expect(text).toContain('trình duyệt không kiểm chữ ký này');
      expect(text).toMatch(/Dấu thời gian \(RFC 3161\)có, đóng dấu lúc \d{2}:\d{2}:\d{2} \d{2}\/\d{2}\/\d{4}/);
      await shot(page, '02-auditor-checkpoint.png');
      await axe(page, 'the checkpoint page');

      // A newest timestamped checkpoint 30 minutes older than the latest: the lag is flagged.
      await page.route(/\/v1\/audit\/checkpoint\?timestamped=true/, async (route) => {
        const response = await route.fetch();
        const old = (await response.json()) as { signedAt: string; timestampedAt: string };
        old.signedAt = old.timestampedAt = new Date(Date.now() - 30 * 60_000).toISOString();
        await route.fulfill({ response, json: old });
      });
      await page.reload();
      await page.getByText(/^Cảnh báo: việc đóng dấu thời gian đang chậm (29|30) phút/).waitFor();
      await shot(page, '02b-timestamp-lag.png');
      await page.unrouteAll({ behavior: 'wait' });
      await page.reload();
      await page.getByText(/^Đóng dấu thời gian bình thường/).waitFor();
      const download = page.waitForEvent('download');
      await page.getByRole('button', { name: 'Lưu điểm kiểm tra này (JSON)' }).click();
      savedCheckpoint = join(downloads, 'saved-checkpoint.json');
      await (await download).saveAs(savedCheckpoint);
      const saved = JSON.parse(readFileSync(savedCheckpoint, 'utf8')) as { treeSize: number; rootHash: string; signature: string };
      savedSize = saved.treeSize;
      expect(saved.treeSize).toBeGreaterThan(1);
      expect(saved.rootHash).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(saved.signature.length).toBeGreaterThan(100);
      // The export link asks exportAudit with the range typed in.
      await page.locator('#export-from').fill('1');
      expect(await page.getByRole('link', { name: 'Tải gói bằng chứng' }).getAttribute('href')).toBe(`${gw.url}/v1/audit/export?from=1`);
      const bundle = page.waitForEvent('download');
      await page.getByRole('link', { name: 'Tải gói bằng chứng' }).click();
      const file = await bundle;
      // The gateway's name for it (Content-Disposition), not "export".
      expect(file.suggestedFilename()).toMatch(/^[\w.-]+\.tar\.gz$/);
      expect(readFileSync(await file.path()).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      await page.getByText(/^Đã lưu .+\.tar\.gz\.$/).waitFor();
      // An export that fails is said, never saved as the bundle.
      await page.route(/\/v1\/audit\/export/, (route) => route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ status: 503, title: 'Service Unavailable', detail: 'export failed on purpose' }) }));
      let downloaded = 0;
      const onDownload = () => downloaded++;
      page.on('download', onDownload);
      await page.getByRole('link', { name: 'Tải gói bằng chứng' }).click();
      await page.locator('#export-status').getByText('export failed on purpose').waitFor();
      await page.waitForTimeout(300);
      page.off('download', onDownload);
      expect(downloaded).toBe(0);
      await page.unrouteAll({ behavior: 'wait' });
    });

    it('browses entries with filters and sees an entry’s inclusion proof verified in the browser', async () => {
      const navLink = await page.getByRole('navigation').getByRole('link', { name: 'Nhật ký trao đổi' }).elementHandle();
      await navLink!.click();
      await page.getByRole('heading', { level: 1, name: 'Nhật ký trao đổi' }).waitFor();
      // The same link, still in the page, now the current one; focus on the new page's heading.
      await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
      expect(await navLink!.evaluate((a) => [a.isConnected, a.getAttribute('aria-current')])).toEqual([true, 'page']);
      await page.locator('#f-operation').fill('createConsoleSession');
      await page.getByRole('button', { name: 'Tìm', exact: true }).click();
      const rows = page.locator('#entries-results tbody tr');
      await rows.first().waitFor();
      for (const op of await page.locator('#entries-results tbody tr td:nth-child(4)').allTextContents()) expect(op).toBe('createConsoleSession');
      // The summary is said through the page's one live region; no table sits in a live region.
      await expect.poll(() => page.locator('#announcer').textContent()).toMatch(/^\d+ bản ghi, bắt đầu từ số 0$/);
      expect(await page.evaluate(() => document.querySelectorAll('[aria-live] table, [role="status"] table, [role="alert"] table').length)).toBe(0);
      await shot(page, '02c-entries.png');
      await axe(page, 'the entries page');
      // By subject only with a purpose: asked for before any call.
      await page.locator('#f-subject').fill('001099012345');
      await page.getByRole('button', { name: 'Tìm', exact: true }).click();
      await page.getByText('Chọn mục đích khi tra cứu theo đối tượng.').waitFor();
      await page.locator('#f-purpose').selectOption('THANH_TRA_KIEM_TRA');
      await page.getByRole('button', { name: 'Tìm', exact: true }).click();
      await page.getByText(/Không có bản ghi nào khớp|bản ghi, bắt đầu từ số/).waitFor();
      await page.getByRole('button', { name: 'Xóa bộ lọc' }).click();
      await page.getByRole('link', { name: 'Xem bản ghi 1', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Bản ghi số 1' }).waitFor();
      const verdict = page.locator('[data-verdict]');
      await verdict.waitFor();
      expect(await verdict.getAttribute('data-verdict')).toBe('verified');
      expect(await verdict.textContent()).toMatch(/^ĐÃ KIỂM CHỨNG: lá của bản ghi khớp gốc .+ của điểm kiểm tra \(chữ ký của điểm kiểm tra kiểm bằng openssl/);
      expect(await page.locator('.step.ok').count()).toBe(4);
      await expect.poll(() => page.locator('#announcer').textContent()).toMatch(/^ĐÃ KIỂM CHỨNG/);
      await shot(page, '03-entry-verified.png');
      await axe(page, 'an entry');
    });

    it('refuses a proof with one audit-path hash changed, and a changed leaf', async () => {
      let tampered = 0;
      await page.route(/\/v1\/audit\/entries\/\d+\/proof/, async (route) => {
        const response = await route.fetch();
        const proof = (await response.json()) as { auditPath: string[] };
        proof.auditPath[0] = flip(proof.auditPath[0]!);
        tampered++;
        await route.fulfill({ response, json: proof });
      });
      await page.reload();
      const verdict = page.locator('[data-verdict]');
      await verdict.waitFor();
      expect(tampered).toBe(1);
      expect(await verdict.getAttribute('data-verdict')).toBe('refused');
      expect(await verdict.textContent()).toMatch(/^BỊ TỪ CHỐI: gốc tính được \(.+\) khác gốc đã ký/);
      await shot(page, '04-proof-refused.png');
      await page.unrouteAll({ behavior: 'wait' });

      await page.route(/\/v1\/audit\/entries\/\d+$/, async (route) => {
        const response = await route.fetch();
        const entry = (await response.json()) as { leaf: string };
        // One character of the leaf: "client":"sandbox-…" → "client":"sbndbox-…", same length.
        entry.leaf = entry.leaf.replace('"client":"sa', '"client":"sb');
        await route.fulfill({ response, json: entry });
      });
      await page.reload();
      await verdict.waitFor();
      expect(await verdict.getAttribute('data-verdict')).toBe('refused');
      expect(await verdict.textContent()).toMatch(/^BỊ TỪ CHỐI: mã băm của lá \(.+\) khác leafHash/);
      await shot(page, '04b-leaf-refused.png');
      await page.unrouteAll({ behavior: 'wait' });

      // The served fields say another client; the leaf (the hashed bytes) is untouched: the page
      // shows the leaf's client, never the served one, and refuses.
      await page.route(/\/v1\/audit\/entries\/\d+$/, async (route) => {
        const response = await route.fetch();
        const entry = (await response.json()) as { client: string };
        entry.client = 'he-thong-gia-mao';
        await route.fulfill({ response, json: entry });
      });
      await page.reload();
      await verdict.waitFor();
      expect(await verdict.getAttribute('data-verdict')).toBe('refused');
      expect(await verdict.textContent()).toMatch(/^BỊ TỪ CHỐI: các trường máy chủ trả về khác lá đã băm \(client\)/);
      expect(await page.locator('.step.bad').count()).toBe(1);
      const shown = (await page.locator('section[aria-labelledby="entry-fields"] pre').textContent())!;
      expect(JSON.parse(shown).client).toMatch(/^sandbox-/);
      expect(await page.locator('section[aria-labelledby="entry-fields"]').textContent()).toContain('Máy chủ trả về các trường khác với lá đã băm: client.');
      expect(await page.getByRole('main').textContent()).not.toContain('he-thong-gia-mao');
      await shot(page, '04c-fields-refused.png');
      await page.unrouteAll({ behavior: 'wait' });
    });

    it('checks that the log was only appended to since the checkpoint saved earlier', async () => {
      // More entries: a few searches of the log (each is an entry), then a checkpoint covering them.
      for (let i = 0; i < 3; i++) await gw.fetch('/v1/audit/entries?limit=2', { key: KEYS.auditor });
      let latest = 0;
      await eventually(async () => ((latest = await latestTreeSize()) > savedSize + 2 ? true : undefined), 15_000, 'a larger checkpoint').catch((e: Error) => {
        throw new Error(`${e.message}: ${latest} after ${savedSize}`);
      });
      await page.getByRole('link', { name: 'Kiểm tra nhất quán' }).click();
      await page.locator('#c-file').setInputFiles(savedCheckpoint);
      await expect.poll(() => page.locator('#c-size').inputValue()).toBe(String(savedSize));
      await page.getByRole('button', { name: 'Kiểm tra', exact: true }).click();
      const verdict = page.locator('#consistency-result [data-verdict]');
      await verdict.waitFor();
      expect(await verdict.getAttribute('data-verdict')).toBe('verified');
      expect(await verdict.textContent()).toContain(`chứa nguyên vẹn cây ${savedSize.toLocaleString('vi-VN')} bản ghi đã lưu`);
      await shot(page, '05-consistency.png');
      await axe(page, 'the consistency check');
      // A saved root that is not the log's: refused.
      const saved = JSON.parse(readFileSync(savedCheckpoint, 'utf8')) as { rootHash: string };
      await page.locator('#c-root').fill(flip(saved.rootHash));
      await page.getByRole('button', { name: 'Kiểm tra', exact: true }).click();
      await expect.poll(() => verdict.getAttribute('data-verdict')).toBe('refused');
      expect(await verdict.textContent()).toMatch(/^BỊ TỪ CHỐI: gốc (cũ )?tính được/);
      await shot(page, '05b-consistency-refused.png');
    });

    it('lists who asked about a person, with an audit purpose', async () => {
      const person = people.filter((p) => !p.dateOfDeath)[3]!;
      const res = await gw.fetch('/v1/citizens/verify', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'canbo-0042', 'x-purpose': 'XAC_MINH_DANH_TINH' },
        body: JSON.stringify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth }),
      });
      expect(res.status).toBe(200);
      // Wait for the check to be in the log without searching by the person (a search would be an access too).
      await eventually(async () => {
        const r = await gw.fetch('/v1/audit/entries?operation=verifyCitizen&limit=1000', { key: KEYS.auditor });
        return ((await r.json()) as { items: unknown[] }).items.length ? true : undefined;
      }, 15_000, 'the identity check in the log');
      await page.getByRole('link', { name: 'Ai đã tra cứu' }).click();
      await page.locator('#a-subject').fill(person.idNumber);
      // No purpose is chosen for the officer: asked for before any call.
      expect(await page.locator('#a-purpose').inputValue()).toBe('');
      let asked = 0;
      const countAsks = (r: { url(): string }) => {
        if (r.url().includes('/v1/subjects/accesses')) asked++;
      };
      page.on('request', countAsks);
      await page.getByRole('button', { name: 'Tra cứu', exact: true }).click();
      await page.locator('#accesses-result').getByText('Chọn mục đích khi tra cứu theo đối tượng.').waitFor();
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('a-purpose');
      page.off('request', countAsks);
      expect(asked).toBe(0);
      await page.locator('#a-purpose').selectOption('THANH_TRA_KIEM_TRA');
      await page.getByRole('button', { name: 'Tra cứu', exact: true }).click();
      const rows = page.locator('#accesses-result tbody tr');
      await rows.first().waitFor();
      const result = (await page.locator('#accesses-result').textContent())!;
      expect(result).toContain('XAC_MINH_DANH_TINH');
      expect(result).toContain('Đối tượng: ');
      expect(result).not.toContain('()');
      expect(await page.content()).not.toContain(person.fullName);
      // The operation summaries come from the API in English: marked so.
      expect(await page.locator('#accesses-result tbody tr td:nth-child(5) [lang="en"]').count()).toBe(await rows.count());
      await shot(page, '09-accesses.png');
      await axe(page, 'the accesses page');
    });

    it('switches to English and back', async () => {
      await page.getByRole('link', { name: 'Điểm kiểm tra', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Điểm kiểm tra của nhật ký trao đổi' }).waitFor();
      await page.locator('#lang').selectOption('en');
      await page.getByRole('heading', { level: 1, name: 'Exchange-log checkpoints' }).waitFor();
      expect(await page.locator('html').getAttribute('lang')).toBe('en');
      expect(await page.getByRole('navigation').getByRole('link').allTextContents()).toEqual(['Checkpoint', 'Exchange log', 'Consistency check', 'Who looked']);
      expect(await page.title()).toBe('Liên thông console');
      await page.getByRole('main').getByText('Entries (tree size)').first().waitFor();
      await shot(page, '10-english-checkpoint.png');
      await axe(page, 'the checkpoint page in English');
      // Kept across a reload (the language only).
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Exchange-log checkpoints' }).waitFor();
      await page.locator('#lang').selectOption('vi');
      await page.getByRole('heading', { level: 1, name: 'Điểm kiểm tra của nhật ký trao đổi' }).waitFor();
      expect(await page.locator('html').getAttribute('lang')).toBe('vi');
    });

    it('treats a malformed address as a page that does not exist', async () => {
      const errors: string[] = [];
      const onError = (e: Error) => errors.push(e.message);
      page.on('pageerror', onError);
      await page.goto(`${gw.url}/console#/entry/%E0%A4%A`);
      await page.getByRole('main').getByText('Không có trang này.').waitFor();
      page.off('pageerror', onError);
      expect(errors).toEqual([]);
    });

    it('never lets an older page’s late answer overwrite the newer page', async () => {
      await page.goto(`${gw.url}/console#/consistency`);
      await page.getByRole('heading', { level: 1, name: 'Kiểm tra nhật ký chỉ được ghi thêm' }).waitFor();
      let held = 0;
      await page.route(/\/v1\/audit\/checkpoint/, async (route) => {
        held++;
        await new Promise((r) => setTimeout(r, 1500));
        await route.continue().catch(() => undefined);
      });
      await page.getByRole('link', { name: 'Điểm kiểm tra', exact: true }).click();
      await expect.poll(() => held).toBeGreaterThan(0);
      await page.getByRole('link', { name: 'Kiểm tra nhất quán' }).click();
      await page.getByRole('heading', { level: 1, name: 'Kiểm tra nhật ký chỉ được ghi thêm' }).waitFor();
      // The checkpoint page's answers arrive now; the page stays the consistency check.
      await page.waitForTimeout(2500);
      expect(await page.getByRole('heading', { level: 1 }).allTextContents()).toEqual(['Kiểm tra nhật ký chỉ được ghi thêm']);
      expect(await page.locator('#c-file').count()).toBe(1);
      await page.unrouteAll({ behavior: 'wait' });
    });

    it('keeps the session when signing out gets no answer, and says so with a retry', async () => {
      await page.route(/\/v1\/console\/sessions\/current$/, (route) => (route.request().method() === 'DELETE' ? route.abort('connectionfailed') : route.continue()));
      await page.getByRole('button', { name: 'Đăng xuất' }).click();
      await page.getByText(/Chưa đăng xuất được: phiên vẫn còn hiệu lực\./).waitFor();
      expect(await page.getByText('Bạn đã đăng xuất.').count()).toBe(0);
      expect(await page.locator('#signout').isVisible()).toBe(true);
      await page.getByRole('button', { name: 'Thử lại' }).waitFor();
      await shot(page, '12-signout-failed.png');
      // Still signed in, on the server and after a reload.
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Kiểm tra nhật ký chỉ được ghi thêm' }).waitFor();
      expect(await page.locator('#signin-key').count()).toBe(0);
      await page.unrouteAll({ behavior: 'wait' });
    });

    it('signs out', async () => {
      await page.getByRole('button', { name: 'Đăng xuất' }).click();
      await page.getByText('Bạn đã đăng xuất.').waitFor();
      expect(await page.evaluate(async () => (await fetch('v1/console/sessions/current')).status)).toBe(401);
      expect(await pageViolations(page)).toEqual([]);
    });
  });

  describe('an operator', () => {
    let context: BrowserContext;
    let page: Page;
    beforeAll(async () => {
      ({ context, page } = await newContext());
      await signIn(page, KEYS.operator, 'vanhanh-0001');
    });
    afterAll(async () => {
      await clearFaults(gw.controlUrl).catch(() => undefined);
      await context?.close();
    });

    it('sees each national system’s state', async () => {
      await page.getByRole('heading', { level: 1, name: 'Tình trạng các hệ thống quốc gia' }).waitFor();
      expect(await page.getByRole('navigation').getByRole('link').allTextContents()).toEqual(['Hệ thống quốc gia', 'Hàng đợi gửi hồ sơ', 'Chỉ số phục vụ']);
      const rows = page.locator('main tbody tr');
      await rows.first().waitFor();
      expect(await rows.count()).toBeGreaterThanOrEqual(7);
      const text = (await page.locator('main').textContent())!;
      for (const id of ['dvcqg', 'population', 'tax']) expect(text).toContain(id);
      expect(text).toContain('đóng (bình thường)');
      await page.getByRole('button', { name: 'Làm mới' }).click();
      await shot(page, '06-operator-upstreams.png');
      await axe(page, 'the national systems page');

      // Near and past dates are flagged: a certificate expiring in 5 days, a CRL overdue by an hour.
      await page.route(/\/v1\/upstreams$/, async (route) => {
        const response = await route.fetch();
        const list = (await response.json()) as { items: { id: string; certificateExpiresAt: string | null; crlNextUpdate: string | null }[] };
        const population = list.items.find((u) => u.id === 'population')!;
        population.certificateExpiresAt = new Date(Date.now() + 5 * 86_400_000).toISOString();
        population.crlNextUpdate = new Date(Date.now() - 3_600_000).toISOString();
        await route.fulfill({ response, json: list });
      });
      await page.getByRole('button', { name: 'Làm mới' }).click();
      const population = page.locator('main tbody tr', { hasText: 'population' });
      await expect.poll(() => population.textContent()).toContain('sắp hết hạn');
      expect(await population.textContent()).toContain('CRL QUÁ HẠN');
      await shot(page, '06b-upstream-warnings.png');
      await page.unrouteAll({ behavior: 'wait' });
      // A success that is not JSON (a proxy's page) is an error, not an empty list.
      await page.route(/\/v1\/upstreams$/, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<html><body>proxy</body></html>' }));
      await page.getByRole('button', { name: 'Làm mới' }).click();
      await page.locator('#upstreams-body').getByText(/^Lỗi: HTTP 200: not JSON \(text\/html\)/).waitFor();
      // No answer at all is said as such.
      await page.unrouteAll({ behavior: 'wait' });
      await page.route(/\/v1\/upstreams$/, (route) => route.abort('connectionfailed'));
      await page.getByRole('button', { name: 'Làm mới' }).click();
      await page.locator('#upstreams-body').getByText('Lỗi: Không kết nối được với cổng liên thông.').waitFor();
      await page.unrouteAll({ behavior: 'wait' });
    });

    it('finds a dead dossier with its error, and redelivers it after confirming in a dialog', async () => {
      const code = String(sampleDossier(71).code);
      const unreadable = String(sampleDossier(72).code);
      const left = String(sampleDossier(73).code);
      await setFault(gw.controlUrl, { system: 'dvcqg', mode: 'error' });
      try {
        for (const n of [71, 72, 73]) {
          const created = await gw.fetch('/v1/dossiers', { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': 'canbo-tohieu-0042', 'x-purpose': 'TIEP_NHAN_HO_SO' }, body: JSON.stringify(sampleDossier(n)) });
          expect(created.status).toBeLessThan(300);
          await gw.fetch(`/v1/dossiers/${String(sampleDossier(n).code)}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(statusEvent(2, fixtureAt(0, '09:00'))) });
        }
        await eventually(async () => {
          const page = (await (await gw.fetch('/v1/dossiers?deliveryState=dead', { key: KEYS.operator })).json()) as { items: { code: string }[] };
          return [code, unreadable, left].every((c) => page.items.some((d) => d.code === c)) ? true : undefined;
        }, 15_000, 'three dead deliveries');
      } finally {
        await clearFaults(gw.controlUrl);
      }
      await page.getByRole('link', { name: 'Hàng đợi gửi hồ sơ' }).click();
      const dead = page.locator('section[aria-labelledby="outbox-dead"]');
      const row = dead.locator('tbody tr', { hasText: code });
      await row.waitFor();
      expect(await row.textContent()).toMatch(/UPSTREAM_UNAVAILABLE/);
      await shot(page, '07a-outbox-dead.png');
      await axe(page, 'the outbox');

      // The dialog: focus inside, kept inside, Escape closes it and nothing happens.
      const button = page.getByRole('button', { name: `Gửi lại hồ sơ ${code}` });
      await button.focus();
      await page.keyboard.press('Enter');
      const dialog = page.locator('#confirm-dialog');
      await expect.poll(() => dialog.evaluate((d) => (d as HTMLDialogElement).open)).toBe(true);
      for (let i = 0; i < 4; i++) {
        expect(await page.evaluate(() => Boolean(document.activeElement?.closest('dialog')))).toBe(true);
        await page.keyboard.press('Tab');
      }
      await axe(page, 'the redelivery dialog');
      await page.keyboard.press('Escape');
      await expect.poll(() => dialog.evaluate((d) => (d as HTMLDialogElement).open)).toBe(false);
      expect(await page.evaluate(() => document.activeElement?.getAttribute('data-redeliver'))).toBe(code);
      expect(await row.count()).toBe(1);

      // From the first redelivery on, every call the page makes: the follow-up reads the dossier
      // list by code (no personal data), never getDossier, and claims no purpose.
      const calls: { method: string; path: string; purpose: string | undefined }[] = [];
      const listen = (r: Request) => {
        const url = new URL(r.url());
        if (url.pathname.startsWith('/v1/')) calls.push({ method: r.method(), path: `${url.pathname}${url.search}`, purpose: r.headers()['x-purpose'] });
      };
      page.on('request', listen);
      const followed = (c: string) => calls.filter((call) => call.method === 'GET' && call.path === `/v1/dossiers?code=${encodeURIComponent(c)}&pageSize=1`).length;

      // The dossier's state cannot be read after its redelivery: said as an error, never "delivered"
      // (it is in fact delivered, and gone from the pending list).
      const escaped = (c: string) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const byCode = (c: string) => new RegExp(`/v1/dossiers\\?code=${escaped(encodeURIComponent(c))}&`);
      await page.route(byCode(unreadable), (route) => route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ status: 503, title: 'Service Unavailable', detail: 'read failed on purpose' }) }));
      await page.getByRole('button', { name: `Gửi lại hồ sơ ${unreadable}` }).click();
      await page.locator('#confirm-ok').click();
      await page.getByText(`Hồ sơ ${unreadable}: đã đưa 1 thay đổi trở lại hàng đợi.`).waitFor();
      // Focus on the message that says what happened (the row's button goes with the list).
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('outbox-status');
      await page.getByText(`Hồ sơ ${unreadable}: không đọc được trạng thái gửi`).waitFor({ timeout: 10_000 });
      expect(await page.locator('#outbox-status').textContent()).not.toContain(`Hồ sơ ${unreadable}: đã gửi xong`);
      // One failed read is the answer: no more reads of it.
      expect(followed(unreadable)).toBe(1);
      await page.unrouteAll({ behavior: 'wait' });

      // Following a redelivery stops when the page is left.
      let reads = 0;
      await page.route(byCode(left), async (route) => {
        reads++;
        const response = await route.fetch();
        const listed = (await response.json()) as { items: object[] };
        await route.fulfill({ response, json: { ...listed, items: listed.items.map((d) => ({ ...d, deliveryState: 'pending' })) } });
      });
      await page.getByRole('button', { name: `Gửi lại hồ sơ ${left}` }).click();
      await page.locator('#confirm-ok').click();
      await expect.poll(() => reads, { timeout: 10_000 }).toBeGreaterThan(0);
      await page.getByRole('link', { name: 'Hệ thống quốc gia' }).click();
      await page.getByRole('heading', { level: 1, name: 'Tình trạng các hệ thống quốc gia' }).waitFor();
      const readsWhenLeft = reads;
      await page.waitForTimeout(3500);
      expect(reads).toBe(readsWhenLeft);
      await page.unrouteAll({ behavior: 'wait' });
      await page.getByRole('link', { name: 'Hàng đợi gửi hồ sơ' }).click();
      await row.waitFor();

      await button.click();
      await shot(page, '07b-outbox-confirm.png');
      await page.locator('#confirm-ok').click();
      await page.getByText(`Hồ sơ ${code}: đã đưa 1 thay đổi trở lại hàng đợi.`).waitFor();
      await page.getByText(`Hồ sơ ${code}: đã gửi xong, không còn trong hàng đợi.`).waitFor({ timeout: 20_000 });
      const state = (await (await gw.fetch(`/v1/dossiers/${code}`, { key: KEYS.operator, headers: { 'x-user-id': 'vanhanh-0001', 'x-purpose': 'TIEP_NHAN_HO_SO' } })).json()) as { deliveryState: string };
      expect(state.deliveryState).toBe('delivered');
      expect(await dead.locator('tbody tr', { hasText: code }).count()).toBe(0);
      page.off('request', listen);
      expect(followed(code)).toBeGreaterThan(0);
      expect(calls.filter((call) => call.method === 'GET' && /^\/v1\/dossiers\/[^/?]+$/.test(call.path))).toEqual([]);
      expect(calls.filter((call) => call.purpose !== undefined)).toEqual([]);
      await shot(page, '07-outbox-redelivered.png');
    });

    it('reads the service index', async () => {
      await page.getByRole('link', { name: 'Chỉ số phục vụ' }).click();
      await page.getByRole('heading', { level: 1, name: /Chỉ số phục vụ/ }).waitFor();
      const canvas = page.locator('canvas#si-chart');
      await canvas.waitFor();
      // The chart is drawn by chart.js from the gateway's vendor files, and named for assistive technology.
      await expect.poll(() => page.evaluate(() => 'Chart' in globalThis)).toBe(true);
      expect(await canvas.getAttribute('role')).toBe('img');
      expect(await canvas.getAttribute('aria-label')).toMatch(/^Biểu đồ 2\.1 — |^Biểu đồ .+ theo cơ quan và kỳ$/);
      // The same figures as the API, in the table beside the chart: the province's 2.1 of each month.
      const from = await page.locator('#si-from').inputValue();
      const to = await page.locator('#si-to').inputValue();
      const report = (await (await gw.fetch(`/v1/reports/service-index?from=${from}&to=${to}`, { key: KEYS.operator })).json()) as {
        periods: { period: string; province: { indicators: { id: string; numerator: number; denominator: number }[] }; agencies: { agency: string }[] }[];
        notComputed: unknown[];
      };
      const table = page.locator('#si-body table').first();
      const withDossiers = report.periods.filter((p) => (p.province.indicators.find((f) => f.id === '2.1')?.denominator ?? 0) > 0);
      expect(withDossiers.length).toBeGreaterThan(0);
      for (const p of withDossiers) {
        const f = p.province.indicators.find((x) => x.id === '2.1')!;
        const [year, month] = p.period.split('-');
        const row = table.locator('tbody tr', { hasText: `${month}/${year}` }).filter({ hasText: 'Toàn tỉnh' });
        expect(await row.textContent()).toContain(`${f.numerator} / ${f.denominator}`);
        for (const a of p.agencies) expect(await table.textContent()).toContain(a.agency);
      }
      expect(await page.locator('section[aria-labelledby="si-nc"] tbody tr').count()).toBe(report.notComputed.length);
      expect(await page.getByRole('link', { name: 'Tải CSV' }).getAttribute('href')).toContain('format=csv');
      // Both formulas: the sources' (Vietnamese) and what the gateway counts (English, marked so);
      // the API's English reasons and notes are marked too.
      const figure = page.locator('section[aria-labelledby="si-fig-title"]');
      expect(await figure.textContent()).toContain('Công thức theo nguồn: ');
      expect(await figure.textContent()).toContain('Cổng liên thông đếm (tiếng Anh): ');
      expect(await figure.locator('[lang="en"]').count()).toBeGreaterThanOrEqual(1);
      expect(await page.locator('section[aria-labelledby="si-nc"] tbody td:nth-child(3) [lang="en"]').count()).toBe(report.notComputed.length);
      await shot(page, '08-service-index.png');
      await page.locator('.chart-box').screenshot({ path: join(SHOTS, '08b-service-index-chart.png') });
      await axe(page, 'the service index');
      // Only http(s) addresses become links.
      await page.route(/\/v1\/reports\/service-index\?/, async (route) => {
        const response = await route.fetch();
        const body = (await response.json()) as { sources: { url: string | null }[] };
        body.sources[0]!.url = 'javascript:alert(1)';
        await route.fulfill({ response, json: body });
      });
      await page.getByRole('button', { name: 'Xem', exact: true }).click();
      await page.locator('section[aria-labelledby="si-sources"]').getByText('javascript:alert(1)').waitFor();
      expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
      await page.unrouteAll({ behavior: 'wait' });
    });

    it('goes back to sign-in with a message when the session has ended', async () => {
      await page.getByRole('link', { name: 'Hệ thống quốc gia' }).click();
      await page.getByRole('button', { name: 'Làm mới' }).waitFor();
      await context.clearCookies();
      await page.getByRole('button', { name: 'Làm mới' }).click();
      await page.getByText('Phiên làm việc đã hết hạn. Vui lòng đăng nhập lại.').waitFor();
      await page.locator('#signin-key').waitFor();
      await shot(page, '11-session-expired.png');
      expect(await pageViolations(page)).toEqual([]);
    });
  });

  describe('in a browser set to UTC', () => {
    let context: BrowserContext;
    let page: Page;
    beforeAll(async () => {
      context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'vi-VN', timezoneId: 'UTC' });
      page = await context.newPage();
      page.on('request', (r) => requested.push(r.url()));
      page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
    });
    afterAll(async () => {
      await context?.close();
    });

    it('shows the sign-in form with the error and a retry when the session cannot be checked at start', async () => {
      await page.route(/\/v1\/console\/sessions\/current$/, (route) => route.abort('connectionfailed'));
      await page.goto(`${gw.url}/console`);
      await page.locator('#signin-key').waitFor();
      const message = page.locator('#signin-message');
      await message.getByText('Không kết nối được với cổng liên thông.', { exact: false }).waitFor();
      expect(await message.textContent()).toContain('Không kiểm tra được phiên đăng nhập hiện có.');
      await page.unrouteAll({ behavior: 'wait' });
      await page.locator('#session-retry').click();
      await expect.poll(() => message.textContent()).toBe('');
      expect(await page.locator('#signin-key').count()).toBe(1);
    });

    it('sends the times typed in the filters as Vietnam time, whatever the browser’s zone', async () => {
      await signIn(page, KEYS.auditor, 'thanhtra-0008');
      await page.getByRole('link', { name: 'Nhật ký trao đổi' }).click();
      await page.getByRole('heading', { level: 1, name: 'Nhật ký trao đổi' }).waitFor();
      expect(await page.locator('label[for="f-since"]').textContent()).toBe('Từ thời điểm (giờ Việt Nam)');
      // Yesterday at this wall-clock time in Vietnam, typed as the field takes it.
      const typed = new Date(Date.now() + 7 * 3_600_000 - 86_400_000).toISOString().slice(0, 16);
      await page.locator('#f-since').fill(typed);
      const request = page.waitForRequest((r) => r.url().includes('/v1/audit/entries?'));
      await page.getByRole('button', { name: 'Tìm', exact: true }).click();
      const since = new URL((await request).url()).searchParams.get('since');
      expect(since).toBe(`${typed}:00+07:00`);
      await page.getByText(/Không có bản ghi nào khớp|bản ghi, bắt đầu từ số/).waitFor();
    });
  });

  it('reported no policy violation, and asked nothing of any host but the gateway', () => {
    expect(violations).toEqual([]);
    expect(requested.length).toBeGreaterThan(20);
    const elsewhere = requested.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).host !== host);
    expect(elsewhere).toEqual([]);
  });
});
