import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { parseDocument, YAMLSeq } from 'yaml';
import { ConfigError, hashApiKey, loadConfig } from '../config/load.ts';

export interface NewClient {
  id: string;
  agency: string;
  roles: string[];
  operations?: string[] | undefined;
  name?: string | undefined;
}

/**
 * Adds a client to a YAML config file, keeping its comments, and returns the new key. Only the
 * key's hash is written. The file is validated as a whole before it replaces the old one.
 */
export function addClient(file: string, client: NewClient, env: Record<string, string | undefined>): { key: string } {
  const key = `lt_${randomBytes(32).toString('base64url')}`;
  const doc = parseDocument(existsSync(file) ? readFileSync(file, 'utf8') : '');
  if (doc.errors.length > 0) throw new ConfigError([`config file ${file}: ${doc.errors[0]!.message}`]);
  if (!doc.contents) doc.contents = doc.createNode({}) as never;
  let clients = doc.get('clients');
  if (!clients) {
    clients = new YAMLSeq();
    doc.set('clients', clients);
  }
  if (!(clients instanceof YAMLSeq)) throw new ConfigError([`config file ${file}: clients must be a list`]);
  const entry: Record<string, unknown> = { id: client.id };
  if (client.name) entry.name = client.name;
  entry.agency = client.agency;
  entry.roles = client.roles;
  if (client.operations) entry.operations = client.operations;
  entry.keyHash = hashApiKey(key);
  clients.add(doc.createNode(entry));
  const text = doc.toString();
  // Validate the result as the gateway would read it (roles, agency code, duplicate ids).
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: 0o600 });
  try {
    loadConfig({ NODE_ENV: env.NODE_ENV }, { file: temp });
  } catch (err) {
    unlinkSync(temp);
    throw err;
  }
  renameSync(temp, file);
  return { key };
}
