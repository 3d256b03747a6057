import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate authority made with the openssl command line: nothing of the sample PKI. */
export interface OpensslCa {
  dir: string;
  certificateFile: string;
  keyFile: string;
  /** Issues an RSA leaf certificate with this common name, valid from an hour ago for `days`. */
  issue(name: string, commonName: string, options?: { days?: number; tls?: boolean }): { certificateFile: string; keyFile: string };
  revoke(certificateFile: string): void;
  /** Writes a CRL of everything revoked so far, by default issued an hour ago and due in a week. */
  crl(file: string, validity?: { thisUpdate?: Date; nextUpdate?: Date }): string;
}

const HOUR = 3600_000;

/** openssl's GeneralizedTime argument: YYYYMMDDHHMMSSZ. */
const stamp = (date: Date) => date.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');

function openssl(args: string[], cwd: string): Buffer {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A root CA in `dir` (created), its index and CRL number, with dates relative to now. */
export function createOpensslCa(dir: string, commonName: string): OpensslCa {
  mkdirSync(join(dir, 'issued'), { recursive: true });
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'crlnumber'), '1000\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = local',
      '[local]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'new_certs_dir = $dir/issued',
      'serial = $dir/serial',
      'crlnumber = $dir/crlnumber',
      'certificate = $dir/ca.pem',
      'private_key = $dir/ca.key.pem',
      'default_md = sha256',
      'default_days = 365',
      'default_crl_days = 7',
      'policy = any',
      'unique_subject = no',
      'copy_extensions = none',
      'rand_serial = yes',
      '[any]',
      'countryName = optional',
      'organizationName = optional',
      'commonName = supplied',
      '[leaf]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '[tls]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth, clientAuth',
      'subjectAltName = DNS:localhost, IP:127.0.0.1',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  );
  openssl(
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key.pem', '-out', 'ca.pem', '-days', '3650',
      '-subj', `/C=VN/O=Liên thông test/CN=${commonName}`, '-utf8',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash',
    ],
    dir,
  );
  return {
    dir,
    certificateFile: join(dir, 'ca.pem'),
    keyFile: join(dir, 'ca.key.pem'),
    issue(name, cn, options = {}) {
      openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key.pem`, '-out', `${name}.csr`, '-subj', `/C=VN/O=Liên thông test/CN=${cn}`, '-utf8'], dir);
      const start = new Date(Date.now() - HOUR);
      const end = new Date(start.getTime() + (options.days ?? 365) * 24 * HOUR);
      openssl(
        ['ca', '-batch', '-config', 'ca.cnf', '-in', `${name}.csr`, '-out', `${name}.pem`, '-notext', '-extensions', options.tls ? 'tls' : 'leaf', '-startdate', stamp(start), '-enddate', stamp(end)],
        dir,
      );
      return { certificateFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key.pem`) };
    },
    revoke(certificateFile) {
      openssl(['ca', '-batch', '-config', 'ca.cnf', '-revoke', certificateFile], dir);
    },
    crl(file, validity = {}) {
      const thisUpdate = validity.thisUpdate ?? new Date(Date.now() - HOUR);
      const nextUpdate = validity.nextUpdate ?? new Date(Date.now() + 7 * 24 * HOUR);
      openssl(['ca', '-batch', '-config', 'ca.cnf', '-gencrl', '-out', file, '-crl_lastupdate', stamp(thisUpdate), '-crl_nextupdate', stamp(nextUpdate)], dir);
      return file;
    },
  };
}
