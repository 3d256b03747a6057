import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { SimulatorDeps } from '../../module.ts';
import { applyFault, messageFault, type FaultResponses } from '../../../src/sandbox/faults.ts';
import { enterprises, people } from '../../../src/sandbox/personas.ts';
import { ASSURANCE_LEVELS, CLAIMS, SANDBOX_CLIENT, SANDBOX_PASSWORD } from '../sandbox-account.ts';

/** The stable national account id of a persona: the same on every machine and every start. */
export function nationalAccountId(kind: 'person' | 'organization', identifier: string): string {
  const hex = createHash('sha256').update(`vneid:${kind}:${identifier}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** yyyy-MM-dd → dd/MM/yyyy, as the national account shows a date of birth. */
function nationalDate(iso: string): string {
  const [y, m, d] = iso.split('-');
  return `${d}/${m}/${y}`;
}

type Claims = Record<string, string | number | null>;

/** Every sandbox persona as a national account: people log in with their ID number, enterprises with their code. */
function accounts(): Map<string, { login: string; claims: Claims }> {
  const byId = new Map<string, { login: string; claims: Claims }>();
  for (const p of people) {
    if (p.dateOfDeath) continue;
    const sub = nationalAccountId('person', p.idNumber);
    byId.set(sub, {
      login: p.idNumber,
      claims: { sub, TechID: sub, LoaiTaiKhoan: 1, SoDinhDanh: p.idNumber, HoVaTen: p.fullName, NgayThangNamSinh: nationalDate(p.dateOfBirth), MaSoThue: p.idNumber, MaSoDoanhNghiep: null },
    });
  }
  for (const e of enterprises) {
    const sub = nationalAccountId('organization', e.enterpriseCode);
    byId.set(sub, {
      login: e.enterpriseCode,
      claims: {
        sub,
        TechID: sub,
        LoaiTaiKhoan: 2,
        // An organisation's account is held by its legal representative.
        SoDinhDanh: e.legalRepresentative.idNumber,
        HoVaTen: e.name,
        NgayThangNamSinh: null,
        MaSoThue: e.enterpriseCode,
        MaSoDoanhNghiep: e.enterpriseCode,
      },
    });
  }
  return byId;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid: string, clientName: string, error?: string): string {
  return `<!doctype html>
<html lang="vi">
<head><meta charset="utf-8"><title>Đăng nhập tài khoản định danh điện tử (sandbox)</title></head>
<body>
<h1>Đăng nhập bằng tài khoản định danh điện tử</h1>
<p>${escapeHtml(clientName)} yêu cầu xác thực. Sandbox: số định danh của một persona (hoặc mã số doanh nghiệp) và mật khẩu <code>${SANDBOX_PASSWORD}</code>.</p>
${error ? `<p role="alert" class="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>Số định danh cá nhân / Mã số doanh nghiệp <input name="username" autocomplete="username" required></label>
<label>Mật khẩu <input name="password" type="password" autocomplete="current-password" required></label>
<label>Mức độ tài khoản (sandbox) <select name="acr">${[...ASSURANCE_LEVELS].reverse().map((level) => `<option value="${level}">${level}</option>`).join('')}</select></label>
<button type="submit">Đăng nhập</button>
</form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort"><button type="submit">Hủy</button></form>
</body>
</html>
`;
}

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 8192) {
        reject(new Error('form too large'));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

const faultResponses: FaultResponses = {
  error: () => ({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'server_error', error_description: 'hệ thống đang bận' }) }),
  malformed: () => ({ status: 200, contentType: 'application/json', body: '{"access_token": "' }),
};

/** Paths the browser visits; the sandbox's faults apply to the back channel (discovery, keys, token, userinfo) only. */
const FRONT_CHANNEL = /^\/(auth|interaction|session)(\/|$)/;

/**
 * The national sign-on stand-in: a real OpenID Connect provider (oidc-provider) whose accounts are
 * the sandbox personas, with a login form under the interaction path. Its signing key is made at
 * start (the provider publishes it at /jwks); nothing leaves the machine. Under the
 * `bad-signature` fault the ID token's signature is spoiled on its way out of the token endpoint.
 */
export function createVneidSimulator(deps: SimulatorDeps): RequestListener {
  const byId = accounts();
  const byLogin = new Map([...byId.entries()].map(([sub, a]) => [a.login, sub]));
  let provider: Promise<{ provider: Provider; handle: RequestListener }> | undefined;

  const build = async (issuer: string) => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: `vneid-sandbox-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };
    const configuration: Configuration = {
      clients: [SANDBOX_CLIENT],
      jwks: { keys: [jwk] },
      claims: { openid: ['sub', ...CLAIMS] },
      // Published as acr_values_supported; the ID token's acr is the level the person logged in at.
      acrValues: [...ASSURANCE_LEVELS],
      features: { devInteractions: { enabled: false } },
      pkce: { required: () => true },
      cookies: {
        // Distinct names: browsers share cookies across the ports of one host.
        names: { session: 'vneid_session', interaction: 'vneid_interaction', resume: 'vneid_resume' },
        keys: [randomBytes(32).toString('hex')],
      },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      ttl: { Interaction: 600, Session: 3600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Grant: 3600 },
      findAccount: (_ctx: KoaContextWithOIDC, id: string) => {
        const account = byId.get(id);
        if (!account) return undefined;
        return { accountId: id, claims: () => ({ ...account.claims, sub: id }) as never };
      },
      renderError: (ctx, out) => {
        ctx.type = 'html';
        ctx.body = `<!doctype html><meta charset="utf-8"><h1>Lỗi</h1><pre>${escapeHtml(JSON.stringify(out))}</pre>`;
      },
    };
    const p = new Provider(issuer, configuration);
    p.on('server_error', (_ctx, err) => deps.log.warn({ err }, 'national sign-on simulator error'));
    return { provider: p, handle: p.callback() as unknown as RequestListener };
  };

  async function interaction(p: Provider, req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const match = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(path);
    if (!match) return false;
    const details = await p.interactionDetails(req, res);
    const clientName = 'Cổng dịch vụ công tỉnh Sơn La';
    if (details.prompt.name === 'consent') {
      // The gateway is a first-party client of the national service: consent is implied.
      const grant = details.grantId ? await p.Grant.find(details.grantId) : new p.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
      if (!grant) throw new Error('grant vanished');
      const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      await p.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
      return true;
    }
    if (req.method === 'GET' && !match[2]) {
      const html = loginPage(details.uid, clientName);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
      return true;
    }
    if (req.method === 'POST' && match[2] === 'abort') {
      await p.interactionFinished(req, res, { error: 'access_denied', error_description: 'người dùng đã hủy đăng nhập' }, { mergeWithLastSubmission: false });
      return true;
    }
    if (req.method === 'POST' && match[2] === 'login') {
      const form = await readForm(req);
      const sub = byLogin.get(form.get('username')?.trim() ?? '');
      // A browser sends the select's value; a form post without it logs in at the highest level.
      const acr = form.get('acr') ?? ASSURANCE_LEVELS[ASSURANCE_LEVELS.length - 1]!;
      if (!sub || form.get('password') !== SANDBOX_PASSWORD || !(ASSURANCE_LEVELS as readonly string[]).includes(acr)) {
        const html = loginPage(details.uid, clientName, 'Số định danh hoặc mật khẩu không đúng');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
        return true;
      }
      await p.interactionFinished(req, res, { login: { accountId: sub, acr } }, { mergeWithLastSubmission: false });
      return true;
    }
    return false;
  }

  /** Spoils the ID token's signature in a token response (the `bad-signature` fault). */
  function spoilIdToken(res: ServerResponse): void {
    const end = res.end.bind(res) as (chunk?: unknown, ...rest: unknown[]) => ServerResponse;
    const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
    const chunks: Buffer[] = [];
    res.write = ((chunk: unknown) => {
      chunks.push(Buffer.from(chunk as Buffer));
      return true;
    }) as typeof res.write;
    res.end = ((chunk?: unknown) => {
      if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as Buffer));
      let text = Buffer.concat(chunks).toString('utf8');
      try {
        const body = JSON.parse(text) as { id_token?: string };
        if (body.id_token) {
          const [h, p, s] = body.id_token.split('.');
          body.id_token = `${h}.${p}.${s!.slice(0, -6)}${s!.slice(-6).split('').reverse().join('')}`;
          text = JSON.stringify(body);
        }
      } catch {
        // Not JSON: leave it.
      }
      res.setHeader('content-length', Buffer.byteLength(text));
      write(text);
      return end();
    }) as typeof res.end;
  }

  return (req, res) => {
    void (async () => {
      const issuer = deps.selfUrl?.() || `http://${req.headers.host ?? '127.0.0.1'}`;
      provider ??= build(issuer);
      const { provider: p, handle } = await provider;
      const path = new URL(req.url ?? '/', issuer).pathname;
      if (!FRONT_CHANNEL.test(path)) {
        if (await applyFault(deps.faults, 'vneid', req, res, faultResponses)) return;
        if (path === '/token' && messageFault(deps.faults, 'vneid')?.mode === 'bad-signature') spoilIdToken(res);
      }
      if (await interaction(p, req, res, path)) return;
      handle(req, res);
    })().catch((err: unknown) => {
      deps.log.error({ err }, 'national sign-on simulator failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('server error');
      else res.destroy();
    });
  };
}
