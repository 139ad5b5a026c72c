import { createHash } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MigrationError } from '../errors.js'
import { splitStatements, type SqlStatement } from './split-statements.js'

/** One numbered SQL file of a module. */
export interface Migration {
  /** The module that brings it: versions are numbered within their module. */
  readonly module: string
  readonly version: number
  readonly name: string
  /** The file name, used in every message about it. */
  readonly file: string
  readonly sql: string
  /** SHA-256 (hex) of the file with line endings normalised. */
  readonly checksum: string
}

/**
 * The two lists a deployment migrates, the shared schema's and every tenant schema's: each
 * module's files in the order the modules are declared (core's first), each module's in
 * version order.
 */
export interface MigrationSet {
  /** The deployment's modules, in order; a module without files is still declared. */
  readonly modules: readonly string[]
  readonly shared: readonly Migration[]
  readonly tenant: readonly Migration[]
}

/**
 * Where a schema stands: per module, the version of its last applied migration. A module
 * with nothing applied is absent. Compared as a whole (one `jsonb` equality in SQL), so
 * "who is behind" stays one query whatever the number of modules.
 */
export type MigrationState = Readonly<Record<string, number>>

/** A module whose migrations a deployment reads. */
export interface MigrationSource {
  readonly name: string
  /** A folder holding `tenant/` and/or `shared/` lists. */
  readonly migrations?: string | URL
}

/** The folder holding core's own `shared/` and `tenant/` migration lists. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../src/migrations/', import.meta.url))

const FILE_NAME = /^(\d+)_([a-z0-9_]+)\.sql$/

/** Reads one list of migrations (`0001_name.sql`, ...) of `module` in version order. */
export async function readMigrationList(dir: string, module = 'core'): Promise<Migration[]> {
  let names: string[]
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort()
  } catch (error) {
    throw new MigrationError(`cannot read migrations folder ${dir}: ${(error as Error).message}`, 'MIGRATIONS_UNREADABLE')
  }
  const migrations: Migration[] = []
  for (const file of names) {
    const match = FILE_NAME.exec(file)
    if (!match) {
      throw new MigrationError(`migration file ${file} in ${dir} is not named like 0001_some_name.sql`, 'MIGRATION_FILE_NAME')
    }
    const sql = (await readFile(path.join(dir, file), 'utf8')).replace(/\r\n/g, '\n')
    const checksum = createHash('sha256').update(sql).digest('hex')
    migrations.push({ module, version: Number(match[1]), name: match[2]!, file, sql, checksum })
  }
  migrations.sort((a, b) => a.version - b.version)
  for (let i = 1; i < migrations.length; i++) {
    const [previous, current] = [migrations[i - 1]!, migrations[i]!]
    if (previous.version === current.version) {
      throw new MigrationError(`migrations ${previous.file} and ${current.file} share version ${current.version}`, 'MIGRATION_FILE_NAME')
    }
  }
  return migrations
}

/** Reads core's own `<dir>/shared` and `<dir>/tenant` (default: the files core ships). */
export async function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<MigrationSet> {
  return readModuleMigrations([{ name: 'core', migrations: dir }])
}

/**
 * Reads every module's `shared/` and `tenant/` lists, in the modules' order. A module may
 * lack either folder (most bring tenant tables only), not its migrations folder itself.
 */
export async function readModuleMigrations(modules: readonly MigrationSource[]): Promise<MigrationSet> {
  const lists = await Promise.all(
    modules.map(async (module) => {
      if (module.migrations === undefined) return { shared: [], tenant: [] }
      const dir = module.migrations instanceof URL ? fileURLToPath(module.migrations) : module.migrations
      if (!(await isFolder(dir))) {
        throw new MigrationError(`module ${module.name}: its migrations folder ${dir} does not exist`, 'MIGRATIONS_UNREADABLE')
      }
      const read = async (kind: string) =>
        (await isFolder(path.join(dir, kind))) ? readMigrationList(path.join(dir, kind), module.name) : []
      const [shared, tenant] = await Promise.all([read('shared'), read('tenant')])
      return { shared, tenant }
    }),
  )
  return { modules: modules.map((m) => m.name), shared: lists.flatMap((l) => l.shared), tenant: lists.flatMap((l) => l.tenant) }
}

async function isFolder(dir: string): Promise<boolean> {
  return (await stat(dir).catch(() => undefined))?.isDirectory() ?? false
}

/** The state a schema is at once every migration in `list` is applied. */
export function latestState(list: readonly Migration[]): MigrationState {
  const state: Record<string, number> = {}
  for (const migration of list) state[migration.module] = Math.max(state[migration.module] ?? 0, migration.version)
  return state
}

/** The migrations of `list` that a schema at `state` still lacks, in order. */
export function pendingMigrations(list: readonly Migration[], state: MigrationState): Migration[] {
  return list.filter((migration) => migration.version > (state[migration.module] ?? 0))
}

/** The state a ledger's rows amount to: per module, its highest version applied. */
export function stateOfLedger(applied: readonly { readonly module: string; readonly version: number }[]): Record<string, number> {
  const state: Record<string, number> = {}
  for (const row of applied) state[row.module] = Math.max(state[row.module] ?? 0, row.version)
  return state
}

/** Whether two states name the same versions of the same modules. */
export function sameState(a: MigrationState, b: MigrationState): boolean {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key])
}

/** A state for people: `core 3, comments 1` (`none` before any migration). */
export function formatState(state: MigrationState): string {
  const parts = Object.entries(state).map(([module, version]) => `${module} ${version}`)
  return parts.length > 0 ? parts.join(', ') : 'none'
}

const split = new WeakMap<Migration, Promise<readonly SqlStatement[]>>()

/**
 * A migration's statements, each sent as a query of its own, in order: parsed on first use
 * (once per process), so that reading migrations costs no parsing where none is applied.
 */
export function statementsOf(migration: Migration): Promise<readonly SqlStatement[]> {
  let statements = split.get(migration)
  if (statements === undefined) {
    statements = splitStatements(migration.sql, migration.file)
    split.set(migration, statements)
  }
  return statements
}

/** Parses every migration of `list`: a file that does not parse is refused before anything runs. */
export async function parseAll(list: readonly Migration[]): Promise<void> {
  await Promise.all(list.map(statementsOf))
}

/** A migration for people: `comments/0001_comments.sql`. */
export function migrationLabel(migration: Migration): string {
  return `${migration.module}/${migration.file}`
}
