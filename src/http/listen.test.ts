import { describe, expect, it } from 'vitest';
import { listen } from './listen.ts';

describe('listen', () => {
  it('closes, and closing again resolves at once', async () => {
    const server = await listen((_req, res) => res.end('ok'), '127.0.0.1', 0);
    expect(await (await fetch(server.url)).text()).toBe('ok');
    await server.close(100);
    await expect(Promise.race([server.close(100).then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('hung'), 1000))])).resolves.toBe('closed');
  });
});
