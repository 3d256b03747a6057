import { describe, expect, it } from 'vitest';
import { hashApiKey, loadConfig } from '../config/load.ts';
import { loadClientTrust } from './client-trust.ts';
import { sample } from './material.ts';

const withCertificate = {
  id: 'desk',
  agency: 'H52.101.114',
  roles: ['agency'],
  keyHash: hashApiKey('desk-key-not-a-sample-0001'),
  certificate: { subject: { CN: 'desk' }, issuer: { CN: 'Client CA' } },
};
const config = (env: Record<string, string>, overrides: Record<string, unknown>) => loadConfig(env, { overrides: { 'server.tls.enabled': true, ...overrides } });

describe('the client CAs of mutual TLS', () => {
  it('default to the sample issuing CA outside production, apart from the national roots', () => {
    const trust = loadClientTrust(config({}, { clients: [withCertificate] }))!;
    expect(trust.roots.map((c) => c.subject)).toEqual([expect.stringContaining('Sample Issuing CA')]);
    expect(trust.crls()).toHaveLength(1);
  });

  it('are required in production once a client has a certificate, and never the sample CAs', () => {
    expect(() => loadClientTrust(config({ NODE_ENV: 'production' }, { clients: [withCertificate] }))).toThrow(/server\.tls\.clientRoots: required when NODE_ENV=production/);
    expect(() => loadClientTrust(config({ NODE_ENV: 'production' }, { clients: [withCertificate], 'server.tls.clientRoots': [sample('issuing-ca.pem')] }))).toThrow(/sample PKI/);
    // Keys only: no certificate is asked for.
    expect(loadClientTrust(config({ NODE_ENV: 'production' }, { clients: [{ ...withCertificate, certificate: undefined }] }))).toBeUndefined();
  });
});

describe('client certificates in config', () => {
  it('refuse two clients pinned to the same subject and issuer', () => {
    const twin = { ...withCertificate, id: 'desk-twin', keyHash: hashApiKey('desk-twin-key-0001'), certificate: { issuer: { CN: 'Client CA' }, subject: { CN: 'desk' } } };
    expect(() => config({}, { clients: [withCertificate, twin] })).toThrow(/clients\.desk-twin\.certificate: the same subject and issuer as client "desk"/);
  });
});
