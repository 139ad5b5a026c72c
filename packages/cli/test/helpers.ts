import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cp, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { DEFAULT_MIGRATIONS_DIR, createServices, type Services, type Sql } from '@tenantbase/core'
import { createTestDatabase, testDeployment, type TestDatabase } from '@tenantbase/core/testing'
import type { CommandContext } from '../src/context.js'
import { createOutput, type OutputStream } from '../src/output.js'
import type { Prompter } from '../src/prompts.js'

/** The built cli: tests run what users run (`pnpm test` builds first). */
export const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url))

export const JWT_SECRET = 'test-secret-of-at-least-thirty-two-bytes'

/**
 * Services for tests: no api key cache, so a key revoked or deleted by a cli process is
 * refused here at once (this process does not listen for revocations).
 */
const TEST_CONFIG = { apiKeyCache: { ttlMs: 0, max: 0 }, auth: { bcryptCost: 10 } }

/** A fresh database with the shared schema migrated, and the deployment's services on it. */
export async function setupDatabase(t: Test, options: { migrationsDir?: string } = {}): Promise<{ db: TestDatabase; services: Services }> {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const services = await createServices({
    sql: db.sql,
    config: TEST_CONFIG,
    migrations: (await testDeployment(options.migrationsDir === undefined ? {} : { coreMigrationsDir: options.migrationsDir })).migrations,
  })
  await services.migrateAll()
  return { db, services }
}

/** A random valid schema name, so tests never collide. */
export function randomSchema(label = 't'): string {
  return `${label}_${randomBytes(4).toString('hex')}`
}

/**
 * The environment for a cli child process: this one's, without what the test runner adds
 * (tap's NODE_OPTIONS loads its process-info hooks into every child, signal handlers included).
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || name === 'NODE_OPTIONS' || name === 'TEST_DATABASE_URL' || /^_?TAP/.test(name)) continue
    env[name] = value
  }
  return { ...env, JWT_SECRET, ...extra }
}

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `tenantctl args` as a child process with no terminal: stdin, stdout and stderr are
 * pipes. stdin stays open (never ended), so a cli that waited for input would hang here and
 * be killed by the guard, failing the test instead of passing by accident.
 */
export function runCli(
  args: readonly string[],
  options: { url?: string; env?: Record<string, string>; guardMs?: number } = {},
): Promise<CliResult> {
  const env = childEnv({ ...options.env, ...(options.url && { DATABASE_URL: options.url }) })
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const guard = setTimeout(() => child.kill('SIGKILL'), options.guardMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(guard)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/**
 * A migrations folder: core's files and a tenant migration that sleeps for a minute, so that
 * a creation stays inside its transaction until the test acts on it.
 */
export async function slowTenantMigrations(t: Test): Promise<string> {
  const dir = t.testdir()
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true })
  // One statement (migrations run one statement per query), seen as 'create table slow...'.
  await writeFile(path.join(dir, 'tenant', '0099_slow.sql'), 'create table slow as select 1 as id from pg_sleep(60);\n')
  return dir
}

export interface RunningCli {
  readonly child: ChildProcess
  stdout(): string
  stderr(): string
  /** The exit code; a guard kills the child after a minute. */
  readonly exited: Promise<number | null>
}

/**
 * Starts `tenantctl create ...` on the migrations of {@link slowTenantMigrations} and
 * resolves once the creation is inside its transaction, at the slow migration (or has
 * already ended: the caller checks `child.exitCode`).
 */
export async function startSlowCreation(db: TestDatabase, args: readonly string[], env: Record<string, string>): Promise<RunningCli> {
  const child = spawn(process.execPath, [BIN, 'create', ...args], { env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(guard)
      resolve(code)
    }),
  )
  for (;;) {
    const [row] = await db.sql`
      select count(*)::int as count from pg_stat_activity
      where datname = current_database() and state = 'active' and query like 'create table slow%'`
    if (row!.count > 0 || child.exitCode !== null || child.signalCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

/** Parses stdout as the one JSON document `--json` promises, or fails with the output shown. */
export function parseJson<T = unknown>(t: Test, result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T
  } catch {
    t.fail(`stdout is not one JSON document:\n${result.stdout}\nstderr:\n${result.stderr}`)
    throw new Error('not JSON')
  }
}

/** A stream that keeps what is written. */
export function captureStream(isTTY = false): OutputStream & { text: () => string } {
  let text = ''
  return {
    isTTY,
    write(chunk: string) {
      text += chunk
      return true
    },
    text: () => text,
  }
}

export interface ScriptedAnswer {
  /** Matched against the question's message. */
  readonly question: RegExp
  /** One answer, or several when validation should refuse the first ones. `undefined` accepts the default. */
  readonly answers: readonly (string | boolean | undefined)[]
}

/**
 * A Prompter that answers from a script, running each question's validation like inquirer
 * does: a refused answer records the message and the next scripted answer is tried.
 */
export function scriptedPrompter(script: readonly ScriptedAnswer[]) {
  const asked: { message: string; default: unknown; refusals: string[] }[] = []
  const remaining = script.map((entry) => ({ ...entry, answers: [...entry.answers] }))
  function next(message: string): (string | boolean | undefined)[] {
    const entry = remaining.find((item) => item.question.test(message))
    if (!entry) throw new Error(`unexpected question: ${message}`)
    return entry.answers
  }
  const prompter: Prompter = {
    async input(question) {
      const record = { message: question.message, default: question.default, refusals: [] as string[] }
      asked.push(record)
      const answers = next(question.message)
      for (;;) {
        if (answers.length === 0) throw new Error(`no answer left for: ${question.message} (refused: ${record.refusals.join('; ')})`)
        const raw = answers.shift()
        const value = raw === undefined ? (question.default ?? '') : String(raw)
        const verdict = question.validate ? await question.validate(value) : true
        if (verdict === true) return value
        record.refusals.push(verdict)
      }
    },
    async confirm(question) {
      asked.push({ message: question.message, default: question.default, refusals: [] })
      const [answer] = next(question.message).splice(0, 1)
      return answer === undefined ? (question.default ?? false) : Boolean(answer)
    },
  }
  return { prompter, asked }
}

/** A command context over a test database, with injected prompts and captured output. */
export function testContext(services: Services, options: { prompts?: Prompter; json?: boolean } = {}) {
  const stdout = captureStream()
  const stderr = captureStream()
  let opened = 0
  const ctx: CommandContext = {
    output: createOutput({ stdout, stderr, env: {}, json: options.json ?? false }),
    prompts: options.prompts,
    async services() {
      opened++
      return services
    },
  }
  return { ctx, stdout, stderr, openedDatabase: () => opened > 0 }
}

/** The registry, the keys and the audit log: a refused command must leave them as they were. */
export async function snapshot(sql: Sql): Promise<string> {
  const tenants = await sql`select * from public.tenants order by id`
  const keys = await sql`select id, prefix, tenant_id, name, scope, expires_at, revoked_at, rotated_to from public.api_keys order by id`
  const audit = await sql`select * from public.audit_events order by id`
  const schemas = await sql`select nspname from pg_namespace order by nspname`
  return JSON.stringify({ tenants, keys, audit, schemas })
}

/** `tenantctl create` with every flag, as `actor` if given: the tenant and its first key. */
export async function createTenantByCli(t: Test, url: string, schema: string, actor?: string) {
  const created = await runCli(
    ['create', '--name', `Tenant ${schema}`, '--address', '', '--schema', schema, '--json', ...(actor ? ['--actor', actor] : [])],
    { url },
  )
  t.equal(created.code, 0, created.stderr)
  return parseJson<{ tenant: { id: number }; apiKey: { key: string; prefix: string } }>(t, created)
}

/** A key as `--json` prints it. */
export interface KeyJson {
  prefix: string
  name: string
  scope: string
  status: string
  expiresAt: string | null
  revokedAt: string | null
  rotatedTo: string | null
}
