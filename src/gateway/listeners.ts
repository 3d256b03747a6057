import type { X509Certificate } from 'node:crypto';
import type { Express } from 'express';
import type { Config } from '../config/schema.ts';
import { listen, TLS_CIPHERS, type Listening } from '../http/listen.ts';
import { clientErrorHandler } from '../http/problem.ts';
import type { Logger } from '../logging.ts';
import { sample } from '../signing/material.ts';
import { loadPemCredentials, withChain, type TrustStore } from '../signing/trust-store.ts';
import type { Lifecycle } from './lifecycle.ts';

export interface Listeners {
  http: Listening;
  /** The HTTPS listener (mutual TLS), when enabled. */
  tls: Listening | undefined;
}

/** Serves the app over HTTP and, when enabled, over TLS asking for client certificates. */
export async function startListeners(
  config: Config,
  app: Express,
  deps: { log: Logger; intermediates: readonly X509Certificate[]; clientTrust: TrustStore | undefined; lifecycle: Lifecycle },
): Promise<Listeners> {
  const { log, clientTrust, lifecycle } = deps;
  const http = await listen(app, config.server.host, config.server.port);
  http.server.on('clientError', clientErrorHandler(log));
  lifecycle.defer(() => http.close(0));
  let tls: Listening | undefined;
  if (config.server.tls.enabled) {
    const credentials = loadPemCredentials(config.server.tls.certificateFile ?? sample('gateway.pem'), config.server.tls.keyFile ?? sample('gateway.key.pem'));
    // The certificate is asked for, not required: a client without one may still use a key,
    // and a refused certificate gets a problem+json answer instead of a failed handshake.
    const server = await listen(app, config.server.host, config.server.tls.port, {
      key: credentials.key.export({ type: 'pkcs8', format: 'pem' }),
      cert: [credentials.certificate, ...withChain(credentials, deps.intermediates).chain].map((c) => c.toString()).join(''),
      // Client certificates are asked for under the client CAs only, not the national roots.
      ...(clientTrust ? { ca: [...clientTrust.roots, ...clientTrust.intermediates].map((c) => c.toString()) } : {}),
      requestCert: clientTrust !== undefined,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ciphers: TLS_CIPHERS,
    });
    server.server.on('clientError', clientErrorHandler(log));
    lifecycle.defer(() => server.close(0));
    tls = server;
  }
  return { http, tls };
}
