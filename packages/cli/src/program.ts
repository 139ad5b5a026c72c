import { readFileSync } from 'node:fs'
import { Command } from '@commander-js/extra-typings'
import { createContext, type CliEnvironment, type CommandContext, type GlobalOptions } from './context.js'
import {
  DEFAULT_GRACE,
  durationOf,
  parseAuditAction,
  parseAuditLimit,
  parseConcurrency,
  parseRegistrationState,
  parseScope,
} from './option-parsers.js'

// The command table. Each entry adds one command (or group) to the program, with its
// options typed by @commander-js/extra-typings: an option with a parser hands the command
// its parsed value, and a runner whose parameters do not match its command's arguments and
// options does not compile. A new command is one more function and one more entry in
// COMMANDS; help lists them in that order.

/** A command's work, in its own module: its context, then its arguments and options as commander parsed them. */
type Runner<Params extends unknown[]> = (ctx: CommandContext, ...params: Params) => Promise<unknown>

/**
 * Turns a lazily imported runner into a commander action. The action's `this` is the
 * command being run; only its options (its own and the global ones) are read.
 */
type Run = <Params extends unknown[]>(
  load: (env: CliEnvironment['env']) => Promise<Runner<Params>>,
) => (this: { optsWithGlobals(): GlobalOptions }, ...params: Params) => Promise<void>

type Program = ReturnType<typeof createRootCommand>

/** One entry of the table: adds its command(s) to the program. */
type Registration = (program: Program, run: Run) => void

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`
}

/** The cli package's version, for `--version`. */
function packageVersion(): string {
  const manifest: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  if (typeof manifest === 'object' && manifest !== null && 'version' in manifest && typeof manifest.version === 'string') {
    return manifest.version
  }
  return 'unknown'
}

function createRootCommand(environment: CliEnvironment) {
  return new Command('tenantctl')
    .description('Manage tenantbase tenants, their api keys and the migrations of every schema.')
    .version(packageVersion(), '-V, --version', "print tenantctl's version")
    .option('--json', 'machine output: one JSON document on stdout, nothing else there')
    .option('--verbose', 'show stack traces of errors')
    .option(
      '--config <file>',
      "the deployment's tenantbase.config file, declaring its modules (env TENANTBASE_CONFIG; default: found from the working folder up)",
    )
    .option('--migrations-dir <dir>', "a folder with shared/ and tenant/ lists standing in for core's own (env TENANTCTL_MIGRATIONS_DIR)")
    .option('--actor <name>', 'who is acting, for the audit log (env TENANTCTL_ACTOR; default: OS user@host)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void environment.stdout.write(text),
      writeErr: (text) => void environment.stderr.write(text),
    })
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      '\nDatabase: DATABASE_URL, or the embedded PostgreSQL under .data/ (started if no process runs it).\n' +
        'Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 130 interrupted. Colour is off under NO_COLOR or without a terminal.\n' +
        examples(
          'tenantctl create',
          'tenantctl list --json',
          'tenantctl migrate --concurrency 8',
          'tenantctl status || echo "migrations pending"',
        ),
    )
}

const create: Registration = (program, run) => {
  program
    .command('create')
    .description('create a tenant: its schema, its tables and a first api key (asks for missing flags in a terminal)')
    .option('--name <name>', 'display name of the tenant')
    .option('--address <address>', 'postal address (may be empty: --address "")')
    .option('--schema <schema>', 'schema name: a-z, 0-9 and _, starting with a letter')
    .option('--key-name <name>', 'name of the first api key (default: "default")')
    .option('--domain <host...>', 'host names the tenant is reached at (repeatable; the first is its primary)')
    .addHelpText(
      'after',
      '\nIn a terminal, missing flags are asked for; without one, --name, --address and --schema are required.\n' +
        examples(
          'tenantctl create',
          'tenantctl create --name "Acme Inc." --address "1 Main St" --schema acme --key-name ci',
          'tenantctl create --name Acme --address "" --schema acme --domain acme.example.com --domain www.acme.example.com',
        ),
    )
    .action(run(async () => (await import('./commands/create.js')).runCreate))
}

const list: Registration = (program, run) => {
  program
    .command('list')
    .description('list tenants: name, schema, state, active keys, migration version, created')
    .addHelpText('after', examples('tenantctl list', 'tenantctl list --json | jq -r ".[].schemaName"'))
    .action(run(async () => (await import('./commands/list.js')).runList))
}

const show: Registration = (program, run) => {
  program
    .command('show')
    .description('show one tenant, its state, its keys (prefixes only) and its migration state')
    .argument('<schema>', "the tenant's schema name")
    .addHelpText('after', examples('tenantctl show acme', 'tenantctl show acme --json'))
    .action(run(async () => (await import('./commands/show.js')).runShow))
}

const keys: Registration = (program, run) => {
  const group = program
    .command('keys')
    .description('issue, list, rotate and revoke api keys')
    .addHelpText(
      'after',
      examples(
        'tenantctl keys create acme --name ci --expires-in 90d',
        'tenantctl keys create acme --name dashboard --scope read',
        'tenantctl keys list acme',
        'tenantctl keys rotate tb_0123456789ab --grace 24h',
        'tenantctl keys revoke tb_0123456789ab',
      ),
    )
  group
    .command('create')
    .description('issue a new api key for a tenant (shown once)')
    .argument('<schema>', "the tenant's schema name")
    .option('--name <name>', 'a name for the key, telling it from the others (required: ci, dashboard...)')
    .option('--expires-in <duration>', 'expire after a duration: 90s, 15m, 24h, 30d, 2w or 1y (default: never)', durationOf('--expires-in'))
    .option('--scope <scope>', 'read (GET routes only) or write (everything)', parseScope, 'write')
    .addHelpText(
      'after',
      examples('tenantctl keys create acme --name ci --expires-in 30d', 'tenantctl keys create acme --name dashboard --scope read'),
    )
    .action(run(async () => (await import('./commands/keys-create.js')).runKeysCreate))
  group
    .command('list')
    .description("list a tenant's keys by prefix, with status and last use")
    .argument('<schema>', "the tenant's schema name")
    .addHelpText('after', examples('tenantctl keys list acme'))
    .action(run(async () => (await import('./commands/keys-list.js')).runKeysList))
  group
    .command('rotate')
    .description(
      'issue a new key for the same tenant, scope and expiry (shown once); the old one works for the grace period, never past its own expiry',
    )
    .argument('<key>', "the old key's prefix (tb_ and 12 hex digits) or the whole key")
    .option(
      '--grace <duration>',
      `how long the old key keeps working: 0 (revoke at once), 90s, 15m, 24h, 30d, 2w or 1y (default: ${DEFAULT_GRACE})`,
      durationOf('--grace', { allowZero: true }),
    )
    .option('--name <name>', "a name for the new key (default: the old key's)")
    .addHelpText(
      'after',
      '\nA revoked, expired or already rotated key cannot be rotated. Every API process refuses the old key within a second after its grace ends.\n' +
        examples(
          'tenantctl keys rotate tb_0123456789ab',
          'tenantctl keys rotate tb_0123456789ab --grace 15m --name ci-2027',
          'tenantctl keys rotate tb_0123456789ab --grace 0',
        ),
    )
    .action(run(async () => (await import('./commands/keys-rotate.js')).runKeysRotate))
  group
    .command('revoke')
    .description('revoke a key by its prefix (or the whole key); every API process refuses it within a second')
    .argument('<prefix-or-key>', "the key's public prefix (tb_ and 12 hex digits), or the whole key: it is never printed")
    .addHelpText(
      'after',
      '\nA key revoked before is left as it was (exit 0, "alreadyRevoked": true under --json).\n' +
        examples('tenantctl keys revoke tb_0123456789ab'),
    )
    .action(run(async () => (await import('./commands/keys-revoke.js')).runKeysRevoke))
}

const domains: Registration = (program, run) => {
  const group = program
    .command('domains')
    .description('host names a tenant is reached at (with TENANT_RESOLUTION=api-key,host): add, remove, list')
    .addHelpText(
      'after',
      examples(
        'tenantctl domains add acme shop.acme.com --primary',
        'tenantctl domains list acme',
        'tenantctl domains remove shop.acme.com',
      ),
    )
  group
    .command('add')
    .description('give a tenant a host name (lower-cased, IDN to punycode, port and trailing dot dropped; never an IP address)')
    .argument('<schema>', "the tenant's schema name")
    .argument('<host>', 'the host name, unique across tenants')
    .option('--primary', "make it the tenant's primary domain (its first domain is anyway)")
    .addHelpText(
      'after',
      '\nAdding a domain the tenant has changes nothing (with --primary, makes it primary). Every API process sees it within a second.\n' +
        examples('tenantctl domains add acme acme.example.com', 'tenantctl domains add acme bücher.example --primary --json'),
    )
    .action(run(async () => (await import('./commands/domains.js')).runDomainsAdd))
  group
    .command('remove')
    .description('take a host name from its tenant; every API process answers it 404 TENANT_NOT_FOUND within a second')
    .argument('<host>', 'the host name')
    .addHelpText(
      'after',
      "\nRemoving the primary makes the tenant's oldest other domain primary.\n" + examples('tenantctl domains remove shop.acme.com'),
    )
    .action(run(async () => (await import('./commands/domains.js')).runDomainsRemove))
  group
    .command('list')
    .description("list every tenant's domains, or one tenant's, its primary first")
    .argument('[schema]', "only this tenant's")
    .addHelpText('after', examples('tenantctl domains list', 'tenantctl domains list acme --json'))
    .action(run(async () => (await import('./commands/domains.js')).runDomainsList))
}

const registration: Registration = (program, run) => {
  program
    .command('registration')
    .description("whether a caller reaching a tenant's host names may register without an api key: open or closed (the default)")
    .argument('<schema>', "the tenant's schema name")
    .argument('<state>', 'open or closed', parseRegistrationState)
    .addHelpText(
      'after',
      "\nOpen: anyone reaching the tenant's host names may register a user (then log in and use the API as that user).\n" +
        'A caller with a write api key may always register users. Every API process sees the change within a second.\n' +
        examples('tenantctl registration acme open', 'tenantctl registration acme closed'),
    )
    .action(run(async () => (await import('./commands/domains.js')).runRegistration))
}

const migrate: Registration = (program, run) => {
  program
    .command('migrate')
    .description('migrate the shared schema, then every tenant schema that is behind')
    .option('--concurrency <n>', 'tenants migrated at once, 1-64 (default: 4)', parseConcurrency)
    .option('--schema <schema...>', 'only these tenant schemas (repeatable)')
    .option('--dry-run', 'show what is pending without applying anything')
    .addHelpText(
      'after',
      '\nA progress bar in a terminal, a line per tenant otherwise. Exits 1 if any schema failed, naming each.\n' +
        examples(
          'tenantctl migrate',
          'tenantctl migrate --concurrency 8',
          'tenantctl migrate --schema acme --schema globex',
          'tenantctl migrate --dry-run --json',
        ),
    )
    .action(run(async () => (await import('./commands/migrate.js')).runMigrate))
}

const status: Registration = (program, run) => {
  program
    .command('status')
    .description('per tenant: migration version and pending migrations; exits 1 if anything is pending')
    .addHelpText('after', examples('tenantctl status', 'tenantctl status --json'))
    .action(run(async () => (await import('./commands/status.js')).runStatus))
}

const suspend: Registration = (program, run) => {
  program
    .command('suspend')
    .description('refuse every request of a tenant (403 TENANT_SUSPENDED on every API process within a second); its data and keys stay')
    .argument('<schema>', "the tenant's schema name")
    .option('--reason <text>', 'why, for operators (at most 500 characters)')
    .option('--show-reason', "also show the reason to the tenant's callers in the 403 message")
    .addHelpText(
      'after',
      '\nSuspending a suspended tenant exits 0: with --reason or --show-reason it takes them in place (audited), else nothing changes.\n' +
        examples(
          'tenantctl suspend acme --reason "invoice overdue"',
          'tenantctl suspend acme --reason "maintenance until 14:00 UTC" --show-reason',
        ),
    )
    .action(run(async () => (await import('./commands/suspend.js')).runSuspend))
}

const resume: Registration = (program, run) => {
  program
    .command('resume')
    .description('serve a suspended tenant again')
    .argument('<schema>', "the tenant's schema name")
    .addHelpText('after', '\nResuming an active tenant changes nothing and exits 0.\n' + examples('tenantctl resume acme'))
    .action(run(async () => (await import('./commands/suspend.js')).runResume))
}

const audit: Registration = (program, run) => {
  program
    .command('audit')
    .description(
      'list the operator actions recorded (tenant create, suspend, resume, delete, export, import, restore, registration; key create, rotate, revoke; domain add, remove; migrate), newest first',
    )
    .option('--schema <schema>', "only this tenant's events (also after its deletion)")
    .option('--since <duration>', 'only events this recent: 90s, 15m, 24h, 7d, 2w or 1y', durationOf('--since'))
    .option('--action <action>', 'only this action, such as key.rotate or tenant.suspend', parseAuditAction)
    .option('--limit <n>', 'at most this many events, 1-1000 (default: 50)', parseAuditLimit)
    .addHelpText(
      'after',
      examples('tenantctl audit', 'tenantctl audit --schema acme --since 7d', 'tenantctl audit --action key.rotate --json'),
    )
    .action(run(async () => (await import('./commands/audit.js')).runAudit))
}

const deleteTenant: Registration = (program, run) => {
  program
    .command('delete')
    .description("drop a tenant's schema with all its data and revoke its keys (suspend it first, or --force)")
    .argument('<schema>', "the tenant's schema name")
    .option('--yes', 'do not ask to type the schema name (required without a terminal)')
    .option('--force', 'delete an active tenant without suspending it first')
    .addHelpText('after', examples('tenantctl suspend acme && tenantctl delete acme', 'tenantctl delete acme --yes --force'))
    .action(run(async () => (await import('./commands/delete.js')).runDelete))
}

const exportTenant: Registration = (program, run) => {
  program
    .command('export')
    .description(
      "write one tenant to a bundle file: its registry row, every module's migration state, its rows (read in one snapshot while it serves)",
    )
    .argument('<schema>', "the tenant's schema name")
    .option('-o, --output <file>', 'the bundle file (default: <schema>.tenant.gz in the working folder)')
    .option('--with-keys', "also carry the tenant's api key hashes (import them with import --with-keys)")
    .option('--with-domains', "also carry the tenant's domains (import them with import --with-domains)")
    .addHelpText(
      'after',
      '\nThe file is gzip-compressed COPY text with a manifest of counts and checksums (docs/backups.md); it appears whole or not at all.\n' +
        examples('tenantctl export acme -o acme.tenant.gz', 'tenantctl export acme --with-keys --json'),
    )
    .action(run(async () => (await import('./commands/export.js')).runExport))
}

const importTenant: Registration = (program, run) => {
  program
    .command('import')
    .description("make a new tenant from a bundle file, in one transaction, then migrate it to this deployment's newest state")
    .argument('<file>', 'a bundle written by tenantctl export')
    .option('--schema <schema>', "the new tenant's schema (default: the bundle's)")
    .option('--name <name>', "the new tenant's name (default: the bundle's)")
    .option('--with-keys', "also import the bundle's api keys (refused if any tenant here holds one)")
    .option('--with-domains', "also give the new tenant the bundle's domains (refused if any tenant here holds one)")
    .addHelpText(
      'after',
      '\nA bundle from a newer deployment, or with modules this one does not declare, is refused before anything is written.\n' +
        examples('tenantctl import acme.tenant.gz', 'tenantctl import acme.tenant.gz --schema acme_copy --name "Acme (copy)"'),
    )
    .action(run(async () => (await import('./commands/import.js')).runImport))
}

const restoreTenant: Registration = (program, run) => {
  program
    .command('restore')
    .description("put an existing tenant back to a bundle's content while it serves; the replaced content is kept as a schema")
    .argument('<file>', 'a bundle written by tenantctl export')
    .requiredOption('--into <schema>', 'the tenant to restore')
    .option('--drop-previous', 'drop the replaced content, and copies earlier restores of this tenant kept, instead of keeping it')
    .addHelpText(
      'after',
      '\nThe replaced content is kept as <schema>_prev_<UTC time> until a restore with --drop-previous or DROP SCHEMA removes it.\n' +
        examples('tenantctl restore acme.tenant.gz --into acme', 'tenantctl restore acme.tenant.gz --into acme --drop-previous'),
    )
    .action(run(async () => (await import('./commands/restore.js')).runRestore))
}

const move: Registration = (program, run) => {
  program
    .command('move')
    .description("on Citus: move a tenant's schema to another worker, live (the tenant keeps being served)")
    .argument('<schema>', "the tenant's schema name")
    .requiredOption('--to <host:port>', 'the worker to move it to, as the coordinator names it (see `tenantctl list`)')
    .addHelpText(
      'after',
      '\nNeeds a Citus coordinator with schema-based sharding; elsewhere it says "not a Citus cluster" (exit 2).\n' +
        'Every table of the schema needs a primary key (logical replication).\n' +
        examples('tenantctl move acme --to 10.0.0.8:5432', 'tenantctl move acme --to 10.0.0.8:5432 --json'),
    )
    .action(run(async () => (await import('./commands/move.js')).runMove))
}

const embedded: Registration = (program, run) => {
  const group = program
    .command('embedded')
    .description('the embedded PostgreSQL under .data/ (without DATABASE_URL): is it running, for whom; stop it')
    .addHelpText('after', examples('tenantctl embedded status', 'tenantctl embedded stop'))
  group
    .command('status')
    .description('whether it runs, which process owns it, and whether it was left behind by a process that was killed')
    .action(run(async (env) => (await import('./commands/embedded.js')).embeddedStatus(env)))
  group
    .command('stop')
    .description('stop it (a fast shutdown; its data stays): one left behind at once, one a running process owns only with --force')
    .option('--force', 'stop it even though a running process (the API) uses it')
    .addHelpText(
      'after',
      '\nThe API and tenantctl stop the cluster they started when they end; one left behind by a killed process is adopted\n' +
        'by the next of them that starts (and stopped when it ends), or stopped here.\n' +
        examples('tenantctl embedded stop', 'tenantctl embedded stop --force'),
    )
    .action(run(async (env) => (await import('./commands/embedded.js')).embeddedStop(env)))
}

const doctor: Registration = (program, run) => {
  program
    .command('doctor')
    .description('check registry, schemas, migrations and keys agree; say how to fix each finding; exits 1 on any')
    .addHelpText('after', examples('tenantctl doctor', 'tenantctl doctor --json'))
    .action(run(async () => (await import('./commands/doctor.js')).runDoctor))
}

/** Every command, in the order help lists them. */
const COMMANDS: readonly Registration[] = [
  create,
  list,
  show,
  keys,
  domains,
  registration,
  migrate,
  status,
  suspend,
  resume,
  audit,
  deleteTenant,
  exportTenant,
  importTenant,
  restoreTenant,
  move,
  embedded,
  doctor,
]

/**
 * Builds the `tenantctl` commander program. No side effects: nothing runs until
 * `parseAsync`. Command modules (and through them core and the database driver) are
 * imported only when their command runs, so `--help` answers at once.
 */
export function buildProgram(environment: CliEnvironment) {
  const program = createRootCommand(environment)

  /** Wraps a lazily imported command: builds its context, runs it, always releases the database, explains a failure. */
  const run: Run = (load) =>
    async function (...params) {
      const globals = this.optsWithGlobals()
      const migrationsDir = globals.migrationsDir ?? environment.env.TENANTCTL_MIGRATIONS_DIR
      const ctx = await createContext(environment, { ...globals, ...(migrationsDir && { migrationsDir }) })
      let failure: unknown = undefined
      try {
        const runner = await load(environment.env)
        // Commander also hands the command itself, after the options: runners ignore it.
        const running = runner(ctx, ...params)
        await (environment.escaped ? Promise.race([running, environment.escaped]) : running)
      } catch (error) {
        failure = error
      }
      if (failure === undefined) return ctx.close()
      // Explained before the release: closing stops the embedded cluster this process
      // started, and the explanation asks the database (is it there, is it migrated).
      const explained = await ctx.explain(failure).catch(() => failure)
      // A database that dropped may fail to close too.
      await ctx.close({ now: true }).catch(() => {})
      throw explained
    }

  for (const register of COMMANDS) register(program, run)
  return program
}
