import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import type { TransactionSql } from '../db/sql.js'
import { NotFoundError, ValidationError } from '../errors.js'
import { formatState, latestState, type Migration, type MigrationSet, type MigrationState } from '../migrations/catalog.js'
import { migrateNewTenantSchema } from '../migrations/migrator.js'
import { BundleReader } from './bundle-format.js'
import type { BundleManifest } from './bundle-manifest.js'
import type { BundleProgress } from './export-tenant.js'
import { readTenantTables, tableChecksum, useCanonicalText } from './tenant-tables.js'

/** A bundle file opened for reading: its manifest read and checked, its rows not yet. */
export interface OpenedBundle {
  readonly manifest: BundleManifest
  readonly reader: BundleReader
  /** Stops reading the file (call once done, whatever happened). */
  close(): void
}

/** zlib's error in `error`: itself, its cause, or one of the errors it aggregates. */
function zlibError(error: unknown, depth = 0): (Error & { code: string }) | undefined {
  if (!(error instanceof Error) || depth > 3) return undefined
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && code.startsWith('Z_')) return error as Error & { code: string }
  const inner: unknown[] = [error.cause, ...(error instanceof AggregateError ? (error.errors as unknown[]) : [])]
  for (const each of inner) {
    const found = zlibError(each, depth + 1)
    if (found) return found
  }
  return undefined
}

/** Whether `error` is zlib's: the file is not gzip, or is cut or damaged. */
function zlibProblem(error: unknown): ValidationError | undefined {
  const zlib = zlibError(error)
  if (zlib === undefined) return undefined
  return zlib.code === 'Z_BUF_ERROR'
    ? new ValidationError('the bundle is truncated: its compressed stream ends early', 'BUNDLE_TRUNCATED')
    : new ValidationError(`the bundle is damaged: its compressed stream does not decompress (${zlib.message})`, 'BUNDLE_INVALID')
}

/**
 * `error` as the bundle error it is when zlib's error is in it, else itself: for the callers
 * of {@link loadBundle}, since a stream's error can also reach them by another path than the
 * reader (through the COPY the rows were fed to, or the transaction that held it).
 */
export function asBundleError(error: unknown): unknown {
  return zlibProblem(error) ?? error
}

/** The decompressed bytes of `file`, with zlib's errors as bundle errors. */
async function* decompressed(file: string, gunzip: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of gunzip) yield chunk as Buffer
  } catch (error) {
    throw zlibProblem(error) ?? error
  }
}

/** Opens a bundle and reads its manifest; nothing is written anywhere. */
export async function openBundle(file: string): Promise<OpenedBundle> {
  try {
    await (await open(file, 'r')).close()
  } catch (error) {
    throw new NotFoundError(`cannot read bundle ${file}: ${(error as Error).message}`, 'BUNDLE_NOT_FOUND')
  }
  const input = createReadStream(file)
  const gunzip = createGunzip()
  // Errors reach the reader through gunzip, which the pipeline destroys with them.
  pipeline(input, gunzip).catch(() => {})
  const reader = new BundleReader(decompressed(file, gunzip))
  const close = () => {
    input.destroy()
    gunzip.destroy()
  }
  try {
    const { parseManifest } = await import('./bundle-manifest.js')
    return { manifest: parseManifest(await reader.readManifestBytes()), reader, close }
  } catch (error) {
    close()
    throw error
  }
}

/**
 * The deployment's tenant migrations that make a schema of the bundle's state, after
 * checking that this deployment can: every module of the bundle declared here, no version
 * newer than this deployment's files, every applied file's checksum equal to this
 * deployment's. Throws before anything is written.
 */
export function migrationsOfBundle(manifest: BundleManifest, migrations: MigrationSet): Migration[] {
  const state = manifest.migrations.state
  const unknown = Object.keys(state).filter((module) => !migrations.modules.includes(module))
  if (unknown.length > 0) {
    throw new ValidationError(
      `the bundle holds tables of module${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}, which this deployment does not declare ` +
        `(declared: ${migrations.modules.join(', ')}); declare ${unknown.length === 1 ? 'it' : 'them'} in tenantbase.config first`,
      'BUNDLE_MODULE_UNKNOWN',
    )
  }
  const latest = latestState(migrations.tenant)
  const newer = Object.entries(state).filter(([module, version]) => version > (latest[module] ?? 0))
  if (newer.length > 0) {
    throw new ValidationError(
      `the bundle comes from a newer deployment: it is at ${formatState(state)}, this deployment's newest tenant migrations are ` +
        `${formatState(latest)}; upgrade this deployment first`,
      'BUNDLE_NEWER',
    )
  }
  const wanted = migrations.tenant.filter((migration) => migration.version <= (state[migration.module] ?? 0))
  const applied = new Map(manifest.migrations.applied.map((row) => [`${row.module}:${row.version}`, row]))
  for (const migration of wanted) {
    const row = applied.get(`${migration.module}:${migration.version}`)
    if (row === undefined || row.checksum !== migration.checksum) {
      throw new ValidationError(
        `the bundle's tenant had ${migration.module}/${migration.file} ${row ? 'applied from a different file (checksum mismatch)' : 'not applied'}: ` +
          "its tables may differ from this deployment's at that state",
        'BUNDLE_MIGRATION_MISMATCH',
      )
    }
  }
  if (applied.size !== wanted.length) {
    throw new ValidationError(
      `the bundle's ledger lists ${applied.size} applied migrations but its state ${formatState(state)} has ${wanted.length}`,
      'BUNDLE_MIGRATION_MISMATCH',
    )
  }
  return wanted
}

/**
 * Loads a table's COPY text inside `tx`, writing as fast as the server takes it.
 *
 * NOTE: postgres.js reports an error found while the rows go in by failing the stream, but
 * not one found at the statement's end (a foreign key is checked then): the stream's finish
 * then never comes. So once the rows are sent and the stream has sent its end (its `final`
 * runs on a tick after `end()`), a query follows the COPY on the transaction: it answers
 * after a COPY that succeeded and fails with "transaction aborted" after one that did not.
 * A query sent before that end is refused by the driver and would fail the transaction.
 */
async function copyIn(
  tx: TransactionSql,
  schema: string,
  table: string,
  columns: readonly string[],
  data: AsyncIterable<Buffer>,
): Promise<void> {
  const writable = await tx`copy ${tx(schema)}.${tx(table)} (${tx(columns as string[])}) from stdin`.writable()
  let failed: Error | undefined
  writable.on('error', (error) => (failed ??= error))
  const finished = new Promise<void>((resolve) => writable.once('finish', resolve))
  try {
    try {
      for await (const chunk of data) {
        if (failed !== undefined) break
        if (!writable.write(chunk)) await new Promise((resume) => (writable.once('drain', resume), writable.once('close', resume)))
      }
    } catch (error) {
      // The bundle itself is bad: abandon the COPY (the driver sends CopyFail).
      writable.destroy(error as Error)
      throw error
    }
    if (failed !== undefined) throw failed
    writable.end()
    await new Promise((next) => setImmediate(next))
    // The error handler may have run meanwhile (TypeScript cannot see that it assigned).
    const late = failed as Error | undefined
    if (late !== undefined) throw late
    await Promise.race([finished, tx`select 1`.then(() => finished)])
  } catch (error) {
    if (error instanceof ValidationError) throw error
    const aborted = (error as { code?: string }).code === '25P02'
    throw new ValidationError(
      `the rows of table ${table} in the bundle do not load: ${
        aborted ? 'they break a constraint of the table (such as a foreign key to a row the bundle lacks)' : (error as Error).message
      }`,
      'BUNDLE_ROWS_INVALID',
    )
  }
}

/** A foreign key as {@link takeOffForeignKeys} found it: enough to put it back as it was. */
interface ForeignKey {
  readonly table: string
  readonly name: string
  /** `pg_get_constraintdef`, read with an empty search_path: every table named with its schema. */
  readonly definition: string
}

/**
 * Drops the foreign keys of `schema`'s tables before their rows are copied in, as pg_restore
 * does, for {@link putBackForeignKeys} to add after: each is then checked once over the whole
 * table instead of once per row by a trigger.
 */
async function takeOffForeignKeys(tx: TransactionSql, schema: string): Promise<ForeignKey[]> {
  await tx`select set_config('search_path', '', true)`
  const keys = await tx<ForeignKey[]>`
    select t.relname as table, c.conname as name, pg_get_constraintdef(c.oid) as definition
    from pg_constraint c join pg_class t on t.oid = c.conrelid
    where c.contype = 'f' and t.relnamespace = ${schema}::regnamespace
    order by t.relname, c.conname`
  for (const key of keys) await tx`alter table ${tx(schema)}.${tx(key.table)} drop constraint ${tx(key.name)}`
  return keys
}

/** Adds back what {@link takeOffForeignKeys} dropped; rows that break one refuse the bundle. */
async function putBackForeignKeys(tx: TransactionSql, schema: string, keys: readonly ForeignKey[]): Promise<void> {
  for (const key of keys) {
    try {
      await tx`alter table ${tx(schema)}.${tx(key.table)} add constraint ${tx(key.name)} ${tx.unsafe(key.definition)}`
    } catch (error) {
      if ((error as { code?: string }).code !== '23503') throw error
      throw new ValidationError(
        `the rows of table ${key.table} in the bundle break its foreign key ${key.name}: ${(error as Error).message}`,
        'BUNDLE_ROWS_INVALID',
      )
    }
  }
}

/**
 * Makes `schema` (which must not exist) hold the bundle's tenant, inside `tx`: the schema at
 * the bundle's migration state, its rows by `COPY ... FROM STDIN`, every count and checksum
 * checked against the manifest, sequences set past the loaded ids (and past the values the
 * source had handed out), then this deployment's newer migrations. Reads the bundle to its
 * end. Returns the schema's state.
 */
export async function loadBundle(
  tx: TransactionSql,
  schema: string,
  bundle: OpenedBundle,
  migrations: MigrationSet,
  recorded: ReadonlySet<string>,
  onProgress?: (progress: BundleProgress) => void,
): Promise<MigrationState> {
  const { manifest, reader } = bundle
  const atBundleState = migrationsOfBundle(manifest, migrations)
  await tx`create schema ${tx(schema)}`
  await migrateNewTenantSchema(tx, schema, atBundleState, recorded)

  const tables = new Map((await readTenantTables(tx, schema)).map((table) => [table.name, table]))
  for (const table of manifest.tables) {
    const made = tables.get(table.name)
    if (made === undefined) {
      throw new ValidationError(
        `the bundle holds a table ${table.name} that the migrations at ${formatState(manifest.migrations.state)} do not make`,
        'BUNDLE_TABLE_UNKNOWN',
      )
    }
    if (made.columns.join(',') !== table.columns.join(',')) {
      throw new ValidationError(
        `the bundle's table ${table.name} has columns (${table.columns.join(', ')}), the migrations make (${made.columns.join(', ')})`,
        'BUNDLE_TABLE_UNKNOWN',
      )
    }
  }
  const missing = [...tables.keys()].filter((name) => !manifest.tables.some((table) => table.name === name))
  if (missing.length > 0)
    throw new ValidationError(`the bundle lacks table${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`, 'BUNDLE_INVALID')

  await useCanonicalText(tx)
  const foreignKeys = await takeOffForeignKeys(tx, schema)
  const totalRows = manifest.tables.reduce((sum, table) => sum + table.rows, 0)
  let rows = 0
  let bytes = 0
  for (const table of manifest.tables) {
    const counted = async function* () {
      for await (const chunk of reader.tableData(table.name)) {
        bytes += chunk.length
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) rows++
        yield chunk
        onProgress?.({ table: table.name, rows, totalRows, bytes })
      }
    }
    await copyIn(tx, schema, table.name, table.columns, counted())
    onProgress?.({ table: table.name, rows, totalRows, bytes })
  }
  if (!(await reader.atEnd())) throw new ValidationError('the bundle holds more bytes after its last table', 'BUNDLE_INVALID')
  await putBackForeignKeys(tx, schema, foreignKeys)

  for (const table of manifest.tables) {
    const loaded = await tableChecksum(tx, schema, table.name)
    if (loaded.rows !== table.rows) {
      throw new ValidationError(
        `table ${table.name}: the bundle holds ${loaded.rows} rows, its manifest says ${table.rows}`,
        'BUNDLE_CHECKSUM_MISMATCH',
      )
    }
    if (loaded.checksum !== table.checksum) {
      throw new ValidationError(`table ${table.name}: its rows do not match the manifest's checksum`, 'BUNDLE_CHECKSUM_MISMATCH')
    }
    for (const { column, lastValue } of table.sequences) {
      // The column's largest value is read first and the sequence set by a statement that
      // names no table: on Citus a statement reading a tenant table runs whole on the
      // tenant's worker, whose copy of the sequence hands out another range, while inserts
      // through the coordinator draw from the coordinator's.
      const [loaded] = await tx<{ m: string | null }[]>`select max(${tx(column)})::bigint::text as m from ${tx(schema)}.${tx(table.name)}`
      await tx`
        select setval(pg_get_serial_sequence(format('%I.%I', ${schema}::text, ${table.name}::text), ${column}), greatest(${loaded?.m ?? null}::bigint, ${lastValue ?? 0}::bigint))
        where greatest(${loaded?.m ?? null}::bigint, ${lastValue ?? 0}::bigint) > 0`
    }
  }

  const loaded = new Set(atBundleState)
  const newer = migrations.tenant.filter((migration) => !loaded.has(migration))
  const alreadyRecorded = new Set([...recorded, ...atBundleState.map((m) => `${m.module}:${m.version}`)])
  if (newer.length > 0) await migrateNewTenantSchema(tx, schema, newer, alreadyRecorded)
  return latestState(migrations.tenant)
}
