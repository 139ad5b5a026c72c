import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MigrationError } from '../errors.js'
import { splitStatements, type SqlStatement } from './split-statements.js'

/** One numbered SQL file. */
export interface Migration {
  readonly version: number
  readonly name: string
  /** The file name, used in every message about it. */
  readonly file: string
  readonly sql: string
  /** The file's statements, each sent as a query of its own, in order. */
  readonly statements: readonly SqlStatement[]
  /** SHA-256 (hex) of the file with line endings normalised. */
  readonly checksum: string
}

/** The two lists a deployment migrates: the shared schema's and every tenant schema's. */
export interface MigrationSet {
  readonly shared: readonly Migration[]
  readonly tenant: readonly Migration[]
}

/** The folder holding core's own `shared/` and `tenant/` migration lists. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../src/migrations/', import.meta.url))

const FILE_NAME = /^(\d+)_([a-z0-9_]+)\.sql$/

/** Reads one list of migrations (`0001_name.sql`, ...) in version order. */
export async function readMigrationList(dir: string): Promise<Migration[]> {
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
    const statements = await splitStatements(sql, file)
    migrations.push({ version: Number(match[1]), name: match[2]!, file, sql, statements, checksum })
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

/** Reads `<dir>/shared` and `<dir>/tenant`. */
export async function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<MigrationSet> {
  const [shared, tenant] = await Promise.all([readMigrationList(path.join(dir, 'shared')), readMigrationList(path.join(dir, 'tenant'))])
  return { shared, tenant }
}

/** The version a schema is at once every migration in `list` is applied. */
export function latestVersion(list: readonly Migration[]): number {
  return list.at(-1)?.version ?? 0
}
