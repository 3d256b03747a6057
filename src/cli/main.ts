import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.ts';
import { startGateway } from '../main.ts';
import { createLogger } from '../logging.ts';
import { createDatabase } from '../store/database.ts';
import { migrateToLatest } from '../store/migrations.ts';
import { AUDIT_USAGE, AuditCheckError, AuditUsageError, runAudit } from './audit.ts';
import { addClient } from './clients.ts';
import { DOCUMENTS_USAGE, DocumentsUsageError, runDocuments } from './documents.ts';
import { RESOLVE_USAGE } from './audit-resolve.ts';
import { PURGE_USAGE, runPurge } from './purge.ts';
import { WITNESS_USAGE } from './witness.ts';

const USAGE = `Usage: lienthong <command> [options]

Commands:
  serve [--config FILE]          run the gateway (with no upstream URLs: wired to a sandbox)
  sandbox [--config FILE]        run the simulators of every national system and the control server
  migrate [--config FILE]        bring the database schema to the latest version
  clients add --id ID --agency CODE --roles ROLE[,ROLE] [--operations OP[,OP]]
              [--name NAME] [--config FILE]
                                 create a client, store its key hash in the config file and
                                 print the key once
${AUDIT_USAGE}${WITNESS_USAGE}${RESOLVE_USAGE}${PURGE_USAGE}${DOCUMENTS_USAGE}
Settings come from the config file (--config or LIENTHONG_CONFIG) and environment variables;
see README.md. Exit codes: 0 done, 1 failure, 2 bad configuration or usage.
`;

class UsageError extends Error {}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const env = process.env;
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } }, strict: true });
      const config = loadConfig(env, { file: values.config });
      const gateway = await startGateway(config);
      const signal = await waitForSignal();
      gateway.log.info({ signal }, 'signal received');
      // A shutdown that cannot finish must not keep the process: a deadline, and a second signal, end it.
      const deadline = setTimeout(() => {
        gateway.log.error('shutdown did not finish in time; exiting');
        process.exit(1);
      }, config.server.shutdownGraceMs + 15_000);
      deadline.unref();
      void waitForSignal().then(() => process.exit(1));
      await gateway.close();
      return 0;
    }
    case 'sandbox': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } }, strict: true });
      const config = loadConfig(env, { file: values.config });
      const log = createLogger(config.log);
      const { startSandbox } = await import('../sandbox/sandbox.ts');
      const sandbox = await startSandbox({ log }, config.sandbox);
      log.info({ control: sandbox.controlUrl, systems: sandbox.urls }, 'sandbox running');
      await waitForSignal();
      await sandbox.close();
      return 0;
    }
    case 'migrate': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } }, strict: true });
      const config = loadConfig(env, { file: values.config });
      const handle = createDatabase({ url: config.database.url, sqlitePath: config.database.sqlitePath });
      const { db, location } = handle;
      try {
        const result = await migrateToLatest(handle);
        const applied = result.results ?? [];
        console.log(applied.length === 0 ? `${location}: schema is up to date` : applied.map((r) => `${location}: ${r.migrationName} ${r.status}`).join('\n'));
      } finally {
        await db.destroy();
      }
      return 0;
    }
    case 'clients': {
      const [sub, ...args] = rest;
      if (sub !== 'add') throw new UsageError(`unknown clients command "${sub ?? ''}"`);
      const { values } = parseArgs({
        args,
        options: {
          id: { type: 'string' },
          agency: { type: 'string' },
          roles: { type: 'string' },
          operations: { type: 'string' },
          name: { type: 'string' },
          config: { type: 'string' },
        },
        strict: true,
      });
      const file = values.config ?? env.LIENTHONG_CONFIG ?? 'lienthong.yaml';
      if (!values.id || !values.agency || !values.roles) throw new UsageError('clients add needs --id, --agency and --roles');
      const { key } = addClient(file, {
        id: values.id,
        agency: values.agency,
        roles: values.roles.split(',').map((r) => r.trim()),
        operations: values.operations ? values.operations.split(',').map((o) => o.trim()) : undefined,
        name: values.name,
      }, env);
      console.log(`client ${values.id} added to ${file}; restart the gateway to load it.`);
      console.log('Its API key is shown once and stored nowhere in clear; keep it now:');
      console.log(key);
      return 0;
    }
    case 'audit':
      if (rest[0] === 'purge') return runPurge(rest.slice(1), env, (line) => console.log(line));
      return runAudit(rest, env, (line) => console.log(line));
    case 'documents':
      return runDocuments(rest, env, { out: (line) => console.log(line), err: (line) => console.error(line) });
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`lienthong: ${err.message}`);
      process.exit(2);
    }
    if (err instanceof AuditCheckError) {
      console.error(`lienthong: audit verify FAILED: ${err.message}`);
      process.exit(1);
    }
    if (err instanceof UsageError || err instanceof AuditUsageError || err instanceof DocumentsUsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`lienthong: ${(err as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error('lienthong: failed:', err);
    process.exit(1);
  },
);
