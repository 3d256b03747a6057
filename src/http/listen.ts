import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer, type ServerOptions as TlsOptions } from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * TLS 1.2 cipher suites for the gateway's HTTPS listener: forward-secret AEAD only (Mozilla
 * "intermediate"). Node's default list also accepts static-RSA key exchange and CBC with SHA-1.
 * TLS 1.3 suites are not affected by this list.
 */
export const TLS_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
].join(':');

export interface Listening {
  server: Server;
  url: string;
  port: number;
  /** Stops accepting, lets in-flight requests finish for up to graceMs, then drops the rest. */
  close(graceMs?: number): Promise<void>;
}

/** Starts an HTTP (or, given TLS options, HTTPS) server and resolves once it listens (port 0 picks a free port). */
export function listen(handler: RequestListener, host: string, port: number, tls?: TlsOptions): Promise<Listening> {
  const server: Server = tls ? createTlsServer(tls, handler) : createServer(handler);
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
      resolve({
        server,
        port: address.port,
        url: `${tls ? 'https' : 'http'}://${shownHost}:${address.port}`,
        close: (graceMs = 0) =>
          new Promise<void>((done) => {
            // Closing twice must not wait: a closed server never emits 'close' again.
            if (!server.listening) return done();
            const force = setTimeout(() => server.closeAllConnections(), graceMs);
            force.unref();
            server.close(() => {
              clearTimeout(force);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}
