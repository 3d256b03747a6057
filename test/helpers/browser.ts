/**
 * A small headless browser for redirect flows: fetch with `redirect: 'manual'`, a cookie jar,
 * and the first form of a page. Cookies are kept per host name and shared across its ports, as
 * browsers do.
 */
export interface Browser {
  /** Follows redirects from `url` until an answer that is not a redirect, or one whose Location starts with `stopAt`. */
  follow(url: string, init?: RequestInit, stopAt?: string): Promise<{ response: Response; url: string }>;
  /** Fills and submits the page's form whose action matches `action`, following redirects like `follow`. */
  submit(page: { html: string; url: string }, action: RegExp, fields: Record<string, string>, stopAt?: string): Promise<{ response: Response; url: string }>;
}

export function createBrowser(): Browser {
  const jar = new Map<string, Map<string, string>>();
  const cookieHeader = (url: URL) => [...(jar.get(url.hostname) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
  const store = (url: URL, response: Response) => {
    const cookies = jar.get(url.hostname) ?? new Map<string, string>();
    jar.set(url.hostname, cookies);
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
  };

  async function follow(url: string, init: RequestInit = {}, stopAt?: string) {
    let current = new URL(url);
    let request = init;
    for (let hops = 0; hops < 20; hops++) {
      const headers = new Headers(request.headers);
      const cookie = cookieHeader(current);
      if (cookie) headers.set('cookie', cookie);
      headers.set('accept', 'text/html,application/xhtml+xml');
      const response = await fetch(current, { ...request, headers, redirect: 'manual' });
      store(current, response);
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return { response, url: current.href };
      const next = new URL(location, current);
      if (stopAt && next.href.startsWith(stopAt)) return { response, url: next.href };
      await response.body?.cancel();
      current = next;
      request = {};
    }
    throw new Error(`too many redirects from ${url}`);
  }

  return {
    follow,
    submit(page, action, fields, stopAt) {
      const forms = [...page.html.matchAll(/<form method="post" action="([^"]+)"/g)].map((m) => m[1]!);
      const target = forms.find((f) => action.test(f));
      if (!target) throw new Error(`no form with action ${action} on ${page.url}`);
      return follow(new URL(target.replaceAll('&#38;', '&'), page.url).href, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() }, stopAt);
    },
  };
}
