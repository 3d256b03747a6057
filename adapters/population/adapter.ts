import type { AdapterFactory } from '../module.ts';
import { messageSecurityFor } from '../message-security.ts';
import { ConfigError } from '../../src/config/load.ts';
import type { PopulationRegistry } from '../../src/core/citizens-port.ts';
import { createPopulationClient } from './client.ts';
import { populationSettings } from './config.ts';
import { population, SANDBOX_CODES } from './index.ts';
import { plainMessages, populationMessageSecurity } from './security.ts';
import { SANDBOX_TRANSPORT, type TransportOptions } from './transport.ts';

export const create: AdapterFactory<PopulationRegistry> = (deps, options) => {
  const settings = options.section ? populationSettings(options.section) : undefined;
  const configured = settings?.transport;
  const mode = configured?.mode ?? 'direct';
  const profile = messageSecurityFor(population, { messageSecurity: options.messageSecurity ?? (mode === 'direct' ? 'ws-security' : 'none') });
  if (mode === 'direct' && profile !== 'ws-security') {
    throw new ConfigError(['upstreams.population.messageSecurity: the direct transport needs ws-security']);
  }
  const transport: TransportOptions = {
    mode,
    servicePath: configured?.servicePath,
    tokenUrl: configured?.tokenUrl,
    platformKeys: configured?.platformKeys ?? SANDBOX_TRANSPORT.platformKeys,
    account: configured?.account ?? SANDBOX_TRANSPORT.account,
    client: configured?.client ?? SANDBOX_TRANSPORT.client,
    apiKey: configured?.apiKey ?? SANDBOX_TRANSPORT.apiKey,
  };
  const client = createPopulationClient(
    { policy: deps.policy },
    {
      url: options.url,
      maxResponseBytes: options.maxResponseBytes,
      retryAfterSeconds: options.retryAfterSeconds,
      integrationCode: settings?.integrationCode ?? SANDBOX_CODES.integrationCode,
      serviceCode: settings?.serviceCode ?? SANDBOX_CODES.serviceCode,
      transport,
      ...(profile === 'ws-security' ? populationMessageSecurity(deps.signing) : plainMessages()),
    },
  );
  return {
    id: population.id,
    ops: { exists: client.exists, lookup: client.lookup },
    health: client.health,
    close: client.close,
  };
};
