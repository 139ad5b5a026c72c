/**
 * One large tenant out and back in: `tenantctl export` and `tenantctl import` beside
 * PostgreSQL's own `pg_dump -n <schema> -Fc` and `pg_restore` of the same schema, on one
 * database server in one run.
 *
 * The tenant is made by `tenantctl migrate` and `tenantctl create`, then filled to about
 * `--size-mb` (tables, indexes and TOAST on disk) by server-side `insert ... select
 * generate_series` into its users and posts: users with an email, a name and a bcrypt-sized
 * hash, posts with a title and a body of a few hundred to a thousand characters of words, so
 * rows are as wide, and compress about as well, as real ones. Then, each a whole process (node's
 * start-up included for tenantctl), after a checkpoint:
 *
 *   export       tenantctl export <schema> -o FILE --json
 *   pg_dump      pg_dump -n <schema> -Fc -f FILE                     (one job)
 *   import       tenantctl import FILE --schema <new> --json         (a new tenant beside the source)
 *   pg_restore   pg_restore -d <a new database> FILE                 (one job: the same schema, in full)
 *
 * For each: wall time, rows/s, MiB/s of COPY text (the export's `--json` `bytes`, the same
 * rows pg_dump carries), the file's size (the restored schema's size on disk for import and
 * pg_restore), and the process's peak RSS, read by spawning it through GNU time
 * (`/usr/bin/time -f %M`, Debian's package `time`). Then the ratios tenantctl / pg_dump. With
 * `--rounds` above 1 the order alternates round by round and medians are printed.
 *
 *   BENCH_DATABASE_URL=postgres://... pnpm bench:bundles [--size-mb 1024] [--rounds 1] [--pg-bin /usr/lib/postgresql/15/bin]
 *
 * The comparison needs BENCH_DATABASE_URL: a server no newer than the pg_dump of `--pg-bin`
 * (pg_dump refuses a newer server; Debian 12's is 15). The bench works in a new database of
 * that server (and a second one for pg_restore), dropped at the end. Without it, the bench
 * runs on a throwaway embedded PostgreSQL (`--shared-buffers`, default 1GB), measures
 * tenantctl alone and prints why pg_dump was skipped.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { openBenchServer } from './bench-server.js'
import { WRITE_DOCS_OPTION, writeDocsSection } from './docs-section.js'
import { ms } from './scale-report.js'

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '1' },
    'pg-bin': { type: 'string', default: '/usr/lib/postgresql/15/bin' },
    'shared-buffers': { type: 'string', default: '1GB' },
    ...WRITE_DOCS_OPTION,
  },
})
const SIZE_MB = Number(values['size-mb'])
const ROUNDS = Number(values.rounds)
if (!(SIZE_MB >= 10) || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error('usage: pnpm bench:bundles [--size-mb 1024] (>= 10) [--rounds 1] [--pg-bin DIR] [--shared-buffers 1GB] [--write-docs]')
  process.exit(2)
}
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url))
const TIME = '/usr/bin/time'
const PG_DUMP = path.join(values['pg-bin'], 'pg_dump')
const PG_RESTORE = path.join(values['pg-bin'], 'pg_restore')
const SCHEMA = 'bench_bundle'
/** Posts per user, and per fill statement. */
const POSTS_PER_USER = 20
const FILL_CHUNK = 200_000
/** Distinct sentences the posts' bodies are drawn from: far more text than gzip's 32 KiB window. */
const SENTENCES = 10_000
// Words of the fixture's text (uniformly drawn: close to prose's compressibility, not its meaning).
const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you ' +
  'were her she there been one all we their has would when if so no will can more out other into about up what some ' +
  'them these time could only than its new two may first then do any like my now over such our man me even most made ' +
  'after also did many before must through back years where much your way well down should because each just those ' +
  'people how too little state good very make world still own see men work long get here between both life being under ' +
  'never day same another know while last might us great old year off come since against go came right used take three ' +
  'tenant schema database server release report customer invoice order account payment shipment warehouse region ' +
  'meeting schedule project budget review quarter market product feature request response latency backup restore'
).split(' ')

const load = () => loadavg()[0]!.toFixed(2)
const loads: number[] = []
const mib = (bytes: number) => bytes / 2 ** 20
const fmtMiB = (bytes: number) => (bytes >= 10 * 2 ** 20 ? `${mib(bytes).toFixed(0)} MiB` : `${mib(bytes).toFixed(1)} MiB`)
const count = (n: number) => Math.round(n).toLocaleString('en-US')
const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

interface Run {
  readonly code: number | null
  readonly ms: number
  readonly stdout: string
  readonly stderr: string
  /** Peak resident set size of the process, KiB (GNU time's %M). */
  readonly peakKiB: number
}

let runs = 0
/** Runs `command` through GNU time; returns its wall time, output and peak RSS. */
async function measured(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const rssFile = path.join(work, `rss-${runs++}`)
  const start = performance.now()
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(TIME, ['-f', '%M', '-o', rssFile, command, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: string[] = []
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
    child.on('error', reject)
    child.on('close', (exit) => resolve({ code: exit, stdout: out.join(''), stderr: err }))
  })
  const elapsed = performance.now() - start
  const lines = (await readFile(rssFile, 'utf8').catch(() => '')).trim().split('\n')
  return { code, ms: elapsed, stdout, stderr, peakKiB: Number(lines.at(-1)) || 0 }
}

let failed = false
function check(label: string, run: Run): void {
  if (run.code !== 0) {
    failed = true
    throw new Error(`${label} exited ${run.code}: ${run.stderr.trim().slice(0, 2000)}`)
  }
}

const tenantctl = (args: string[]) => measured(process.execPath, [CLI, ...args], { ...process.env, ...cliEnv, NO_COLOR: '1' })

/** One measured step: wall, the size of what it wrote, peak RSS. */
interface Step {
  readonly ms: number
  readonly bytes: number
  readonly peakKiB: number
}

const work = await mkdtemp(path.join(tmpdir(), 'tenantbase-bench-bundles-'))
if (!process.env.BENCH_DATABASE_URL) console.log('no BENCH_DATABASE_URL: starting a throwaway embedded PostgreSQL...')
const server = await openBenchServer(work, values['shared-buffers'])
const given = server.given
const serverUrl = server.url
const dbName = `tenantbase_bench_${randomBytes(4).toString('hex')}`
const restoreDb = `${dbName}_restore`
const admin = postgres(serverUrl, { max: 1, onnotice: () => {}, transform: postgres.camel })
await admin`create database ${admin(dbName)}`
const urlOf = (database: string) => Object.assign(new URL(serverUrl), { pathname: `/${database}` }).toString()
const url = urlOf(dbName)
const cliEnv = { DATABASE_URL: url, TENANTCTL_ACTOR: 'bench-bundles' }
const sql = postgres(url, { max: 1, onnotice: () => {}, transform: postgres.camel })
let restoreMade = false

try {
  const pgVersion = (await sql`show server_version`)[0]!.serverVersion as string
  const serverMajor = Math.floor(Number((await sql`show server_version_num`)[0]!.serverVersionNum) / 10000)
  const skipped = await pgDumpSkipped(serverMajor)
  const where = given ? 'BENCH_DATABASE_URL' : `embedded, shared_buffers ${values['shared-buffers']}`
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL ${pgVersion} (${where})`
  console.log(`tenantbase bench:bundles: a tenant of about ${SIZE_MB} MiB, ${ROUNDS} round(s); ${machine}; load ${load()}`)
  console.log(skipped ? `pg_dump comparison skipped: ${skipped}\n` : `beside ${PG_DUMP} and ${PG_RESTORE}\n`)

  check('tenantctl migrate', await tenantctl(['migrate']))
  check('tenantctl create', await tenantctl(['create', '--name', 'Bench bundle', '--address', '', '--schema', SCHEMA]))
  const fillStart = performance.now()
  const { users, posts } = await fillTenant()
  const sourceBytes = await schemaBytes(sql, SCHEMA)
  console.log(
    `the tenant: ${count(users)} users, ${count(posts)} posts, ${fmtMiB(sourceBytes)} on disk, made in ${ms(performance.now() - fillStart)} (load ${load()})\n`,
  )
  loads.push(loadavg()[0]!)

  const steps: Record<'export' | 'import' | 'pgDump' | 'pgRestore', Step[]> = { export: [], import: [], pgDump: [], pgRestore: [] }
  let copyBytes = 0
  let rows = 0
  for (let round = 0; round < ROUNDS; round++) {
    const bundle = path.join(work, `${SCHEMA}.tenant.gz`)
    const dump = path.join(work, `${SCHEMA}.dump`)
    const ours = async () => {
      await sql`checkpoint`
      const exported = await tenantctl(['export', SCHEMA, '-o', bundle, '--json'])
      check('tenantctl export', exported)
      const summary = JSON.parse(exported.stdout) as { rows: number; bytes: number; compressedBytes: number }
      copyBytes = summary.bytes
      rows = summary.rows
      if (rows !== users + posts) throw new Error(`export carried ${rows} rows, the tenant has ${users + posts}`)
      steps.export.push(report('tenantctl export', exported, summary.compressedBytes))
      await sql`checkpoint`
      const copy = `${SCHEMA}_import_${round}`
      const imported = await tenantctl(['import', bundle, '--schema', copy, '--name', `Bench bundle import ${round}`, '--json'])
      check('tenantctl import', imported)
      const loaded = (JSON.parse(imported.stdout) as { rows: number }).rows
      if (loaded !== rows) throw new Error(`import loaded ${loaded} rows, the bundle has ${rows}`)
      steps.import.push(report('tenantctl import', imported, await schemaBytes(sql, copy)))
    }
    const theirs = async () => {
      await sql`checkpoint`
      const dumped = await measured(PG_DUMP, ['-d', url, '-n', SCHEMA, '-Fc', '-f', dump])
      check('pg_dump', dumped)
      steps.pgDump.push(report('pg_dump -Fc', dumped, (await stat(dump)).size))
      await admin`drop database if exists ${admin(restoreDb)}`
      await admin`create database ${admin(restoreDb)}`
      restoreMade = true
      await sql`checkpoint`
      const restored = await measured(PG_RESTORE, ['-d', urlOf(restoreDb), dump])
      check('pg_restore', restored)
      const target = postgres(urlOf(restoreDb), { max: 1, onnotice: () => {}, transform: postgres.camel })
      const [{ restoredRows }] = await target<{ restoredRows: number }[]>`
        select (select count(*) from ${target(SCHEMA)}.users)::int + (select count(*) from ${target(SCHEMA)}.posts)::int as restored_rows`
      const bytes = await schemaBytes(target, SCHEMA)
      await target.end({ timeout: 5 })
      if (restoredRows !== users + posts) throw new Error(`pg_restore loaded ${restoredRows} rows, the tenant has ${users + posts}`)
      steps.pgRestore.push(report('pg_restore', restored, bytes))
    }
    console.log(`round ${round + 1} of ${ROUNDS}:`)
    // tenantctl's export comes first in round 1: pg_dump needs no bundle, the import does.
    if (skipped || round % 2 === 0) {
      await ours()
      if (!skipped) await theirs()
    } else {
      await theirs()
      await ours()
    }
    loads.push(loadavg()[0]!)
  }

  const pick = (list: Step[]) => ({
    ms: median(list.map((s) => s.ms)),
    bytes: median(list.map((s) => s.bytes)),
    peakKiB: median(list.map((s) => s.peakKiB)),
  })
  const figures = (label: string, step: Step, sizeLabel: string) =>
    `| ${label} | ${ms(step.ms)} | ${count(rows / (step.ms / 1000))} | ${(mib(copyBytes) / (step.ms / 1000)).toFixed(1)} | ${sizeLabel}: ${fmtMiB(step.bytes)} | ${(step.peakKiB / 1024).toFixed(0)} MiB |`
  const ratio = (label: string, a: Step, b: Step) =>
    `| ${label} | ${(a.ms / b.ms).toFixed(2)}x | ${(b.ms / a.ms).toFixed(2)}x | ${(b.ms / a.ms).toFixed(2)}x | ${(a.bytes / b.bytes).toFixed(2)}x | ${(a.peakKiB / b.peakKiB).toFixed(2)}x |`
  const exp = pick(steps.export)
  const imp = pick(steps.import)
  const table = [
    `| step | wall | rows/s | MiB/s of COPY text | size | peak RSS |`,
    `| --- | ---: | ---: | ---: | ---: | ---: |`,
    figures(`\`tenantctl export\``, exp, 'bundle'),
  ]
  if (!skipped) {
    const dump = pick(steps.pgDump)
    table.push(figures('`pg_dump -n <schema> -Fc`', dump, 'dump'), ratio('export / pg_dump', exp, dump))
  }
  table.push(figures('`tenantctl import --schema <new>`', imp, 'schema on disk'))
  if (!skipped) {
    const restore = pick(steps.pgRestore)
    table.push(figures('`pg_restore` (a new database)', restore, 'schema on disk'), ratio('import / pg_restore', imp, restore))
  }
  const loadRange = `${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)}`
  const tenantLine =
    `A tenant of ${count(users)} users and ${count(posts)} posts (${count(rows)} rows), ${fmtMiB(sourceBytes)} on disk, ` +
    `${fmtMiB(copyBytes)} of COPY text; ${ROUNDS === 1 ? 'one round' : `medians of ${ROUNDS} rounds, the order alternating`}; ` +
    `each step a whole process after a checkpoint, peak RSS by GNU time.` +
    (skipped
      ? ` pg_dump comparison skipped: ${skipped}.`
      : ` Ratios are tenantctl / pg_dump ${PG_DUMP.includes('/15/') ? '15 ' : ''}(the same server, one job each).`)
  console.log(`\n${tenantLine}\n${machine}; load average ${loadRange}\n`)
  console.log(table.join('\n'))
  if (values['write-docs']) {
    await writeDocsSection(
      'bundles',
      `${tenantLine}\n\n${table.join('\n')}`,
      `load average during the run ${loadRange}; PostgreSQL ${pgVersion} (${where})${skipped ? '' : `; ${await pgDumpVersion()}`}`,
    )
  }
} catch (error) {
  failed = true
  console.error('bench:bundles failed:', error)
} finally {
  await sql.end({ timeout: 5 })
  if (given) {
    await admin`drop database if exists ${admin(dbName)} with (force)`
    if (restoreMade) await admin`drop database if exists ${admin(restoreDb)} with (force)`
  }
  await admin.end({ timeout: 5 })
  await server.stop()
  await rm(work, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)

function report(label: string, run: Run, bytes: number): Step {
  console.log(
    `   ${label.padEnd(18)} ${ms(run.ms).padStart(9)}   size ${fmtMiB(bytes).padStart(9)}   peak RSS ${(run.peakKiB / 1024).toFixed(0).padStart(5)} MiB   (load ${load()})`,
  )
  return { ms: run.ms, bytes, peakKiB: run.peakKiB }
}

/** Why pg_dump cannot be compared here, or undefined when it can. */
async function pgDumpSkipped(serverMajor: number): Promise<string | undefined> {
  const version = await pgDumpVersion()
  if (!version) return `no pg_dump at ${PG_DUMP} (--pg-bin)`
  const dumpMajor = Number(/(\d+)(\.\d+)?/.exec(version.replace(/^[^\d]*/, ''))?.[1])
  if (serverMajor > dumpMajor) {
    return given
      ? `the server is PostgreSQL ${serverMajor} and ${version} refuses a newer server`
      : `no BENCH_DATABASE_URL: the embedded PostgreSQL is ${serverMajor}, and ${version} refuses a newer server (set BENCH_DATABASE_URL to a PostgreSQL ${dumpMajor} server)`
  }
  return undefined
}

async function pgDumpVersion(): Promise<string | undefined> {
  const run = await measured(PG_DUMP, ['--version']).catch(() => undefined)
  return run?.code === 0 ? run.stdout.trim().split(' (Debian')[0] : undefined
}

/** Tables, indexes and TOAST of a schema's tables, in bytes. */
async function schemaBytes(db: postgres.Sql, schema: string): Promise<number> {
  const [{ bytes }] = await db<{ bytes: string }[]>`
    select coalesce(sum(pg_total_relation_size(c.oid)), 0)::text as bytes
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schema} and c.relkind = 'r'`
  return Number(bytes)
}

/**
 * Fills the tenant to about SIZE_MB on disk: a first slice measures the bytes a post costs
 * (its share of users included), the rest follows in statements of FILL_CHUNK posts. Bodies
 * are 4 to 19 of SENTENCES sentences of WORDS, drawn by a hash of the row's number.
 */
async function fillTenant(): Promise<{ users: number; posts: number }> {
  const schema = sql(SCHEMA)
  await sql`set synchronous_commit = off`
  await sql`create temp table bench_sentence (i int primary key, s text not null)`
  await sql`
    insert into bench_sentence
    select i, initcap(string_agg(w[1 + floor(random() * cardinality(w))::int], ' ')) || '.'
    from (select ${WORDS}::text[] as w) words, generate_series(0, ${SENTENCES - 1}) i, generate_series(1, 6 + i % 9) j
    group by i`
  await sql`analyze bench_sentence`
  let users = 0
  let posts = 0
  // Sentences are joined by key (hash joins): subscripting one large array per row would
  // detoast all of it every time.
  const addUsers = async (n: number) => {
    await sql`
      insert into ${schema}.users (email, name, password_hash, created_at)
      select 'user' || g || '.' || substr(md5(g::text), 1, 6) || '@example.com',
        initcap(split_part(a.s, ' ', 2) || ' ' || split_part(b.s, ' ', 3)),
        '$2b$10$' || substr(md5(g::text) || md5((g + 1)::text), 1, 53),
        now() - g * interval '17 minutes'
      from generate_series(${users + 1}::bigint, ${users + n}::bigint) g
        join bench_sentence a on a.i = (g * 7919) % ${SENTENCES}
        join bench_sentence b on b.i = (g * 7907) % ${SENTENCES}`
    users += n
  }
  const addPosts = async (n: number) => {
    const [{ firstUser }] = await sql<{ firstUser: string }[]>`select min(id)::text as first_user from ${schema}.users`
    await sql`
      insert into ${schema}.posts (author_id, title, body, created_at, updated_at)
      select ${firstUser}::bigint + (g * 2654435761) % ${users}, rtrim(left(min(t.s), 80), '.'),
        string_agg(b.s, ' ' order by j), now() - g * interval '53 seconds', now() - g * interval '41 seconds'
      from generate_series(${posts + 1}::bigint, ${posts + n}::bigint) g
        cross join lateral generate_series(1, 4 + g % 16) j
        join bench_sentence b on b.i = (g * 2654435761 + j * 40503) % ${SENTENCES}
        join bench_sentence t on t.i = (g * 104729) % ${SENTENCES}
      group by g`
    posts += n
  }
  const target = SIZE_MB * 2 ** 20
  const first = 20_000
  await addUsers(first / POSTS_PER_USER)
  await addPosts(first)
  const perPost = (await schemaBytes(sql, SCHEMA)) / posts
  const total = Math.max(posts, Math.round(target / perPost))
  while (posts < total) {
    const n = Math.min(FILL_CHUNK, total - posts)
    await addUsers(Math.ceil((posts + n) / POSTS_PER_USER) - users)
    await addPosts(n)
    console.log(`   filling: ${count(posts)} of ${count(total)} posts (load ${load()})`)
  }
  await sql`vacuum (analyze) ${schema}.users, ${schema}.posts`
  return { users, posts }
}
