import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { Readable, Transform, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import type { Sql, TransactionSql } from '../db/sql.js'
import { recordAuditEvent } from '../audit/audit-log.js'
import { NotFoundError } from '../errors.js'
import { stateOfLedger } from '../migrations/catalog.js'
import { readLedger } from '../migrations/migrator.js'
import { assertValidSchemaName } from '../db/schema-name.js'
import { BUNDLE_FORMAT_VERSION, BUNDLE_MAGIC, FRAME_TARGET_BYTES, frame } from './bundle-format.js'
import type { BundleApiKey, BundleDomain, BundleManifest, BundleTable } from './bundle-manifest.js'
import { readTenantTables, sequenceValues, tableChecksum, useCanonicalText, type TenantTable } from './tenant-tables.js'

/** How far a bundle's rows have gone (an export's or an import's). */
export interface BundleProgress {
  /** The table being copied. */
  readonly table: string
  /** Rows copied so far, of every table. */
  readonly rows: number
  /** Rows the bundle holds in all (the manifest's counts). */
  readonly totalRows: number
  /** COPY text copied so far, in bytes (uncompressed). */
  readonly bytes: number
}

export interface ExportTenantOptions {
  /** Also carry the tenant's api keys: their hashes and prefixes, never a key. */
  readonly withKeys?: boolean
  /** Also carry the tenant's domains (host names, which is primary). */
  readonly withDomains?: boolean
  /** Called as rows go by (about every 256 KiB of COPY text, and at each table's end). */
  readonly onProgress?: (progress: BundleProgress) => void
}

/** What an export wrote. */
export interface ExportSummary {
  readonly file: string
  readonly schemaName: string
  readonly tables: readonly { readonly name: string; readonly rows: number }[]
  readonly rows: number
  /** COPY text carried, uncompressed. */
  readonly bytes: number
  /** The bundle's size on disk. */
  readonly compressedBytes: number
  readonly apiKeys: number
  /** Domains carried (0 without `withDomains`). */
  readonly domains: number
  readonly migrations: BundleManifest['migrations']['state']
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString())

/** Counts newlines (COPY text ends every row with one and escapes the ones in values). */
function countRows(chunk: Buffer): number {
  let rows = 0
  for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) rows++
  return rows
}

/**
 * A table's rows as COPY text in primary key order, in chunks of about
 * {@link FRAME_TARGET_BYTES}, streamed: the driver pauses its socket while this generator's
 * reader is behind, so memory holds a chunk or two whatever the table's size.
 *
 * NOTE: postgres.js 3.4 resumes a socket it paused for a full COPY stream only when that
 * stream is read again; a COPY whose end arrives while paused leaves the socket paused and
 * the connection deaf (upstream: "Copy stream often hangs if using gzip stream compression",
 * and the open pull request "Ensure connection is usable after COPY stream is complete"). So
 * at the stream's end we ask it to read once more, through the stream's own `_read`, which
 * resumes the socket; once the driver does so itself this call does nothing.
 */
async function* tableRows(tx: TransactionSql, schema: string, table: TenantTable): AsyncGenerator<Buffer> {
  const order = table.primaryKey.length > 0 ? tx`order by ${tx(table.primaryKey as string[])}` : tx``
  const copy = await tx`
    copy (select ${tx(table.columns as string[])} from ${tx(schema)}.${tx(table.name)} ${order}) to stdout`.readable()
  copy.once('end', () => copy._read(0))
  let batch: Buffer[] = []
  let batched = 0
  for await (const chunk of copy as AsyncIterable<Buffer>) {
    batch.push(chunk)
    batched += chunk.length
    if (batched >= FRAME_TARGET_BYTES) {
      yield Buffer.concat(batch, batched)
      batch = []
      batched = 0
    }
  }
  if (batched > 0) yield Buffer.concat(batch, batched)
}

/** The manifest, read in the export's snapshot. */
async function readManifest(
  tx: TransactionSql,
  schemaName: string,
  withKeys: boolean,
  withDomains: boolean,
): Promise<{ manifest: BundleManifest; tables: TenantTable[] }> {
  const [tenant] = await tx<
    {
      id: number
      name: string
      address: string
      createdAt: Date
      suspendedAt: Date | null
      suspensionReason: string | null
      suspensionReasonPublic: boolean
      openRegistration: boolean
    }[]
  >`select id, name, address, created_at, suspended_at, suspension_reason, suspension_reason_public, open_registration
    from public.tenants where schema_name = ${schemaName}`
  if (!tenant) throw new NotFoundError(`no tenant with schema ${schemaName}`, 'TENANT_NOT_FOUND')
  const applied = await readLedger(tx, schemaName, 'schema_migrations')
  const state = stateOfLedger(applied)
  const tables = await readTenantTables(tx, schemaName)
  const described: BundleTable[] = []
  for (const table of tables) {
    const { rows, checksum } = await tableChecksum(tx, schemaName, table.name)
    described.push({
      name: table.name,
      columns: [...table.columns],
      rows,
      checksum,
      sequences: await sequenceValues(tx, schemaName, table),
    })
  }
  let apiKeys: BundleApiKey[] | undefined
  if (withKeys) {
    const keys = await tx<
      {
        prefix: string
        keyHash: Buffer
        name: string
        scope: 'read' | 'write'
        createdAt: Date
        expiresAt: Date | null
        revokedAt: Date | null
        rotatedTo: string | null
        lastUsedAt: Date | null
      }[]
    >`select prefix, key_hash, name, scope, created_at, expires_at, revoked_at, rotated_to, last_used_at
      from public.api_keys where tenant_id = ${tenant.id} order by id`
    apiKeys = keys.map((key) => ({
      prefix: key.prefix,
      keyHash: key.keyHash.toString('hex'),
      name: key.name,
      scope: key.scope,
      createdAt: key.createdAt.toISOString(),
      expiresAt: iso(key.expiresAt),
      revokedAt: iso(key.revokedAt),
      rotatedTo: key.rotatedTo,
      lastUsedAt: iso(key.lastUsedAt),
    }))
  }
  let domains: BundleDomain[] | undefined
  if (withDomains) {
    domains = await tx<BundleDomain[]>`
      select host, is_primary as primary from public.tenant_domains where tenant_id = ${tenant.id} order by is_primary desc, created_at, id`
    domains = domains.map(({ host, primary }) => ({ host, primary }))
  }
  const manifest: BundleManifest = {
    format: 'tenantbase-bundle',
    formatVersion: BUNDLE_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    tenant: {
      id: tenant.id,
      name: tenant.name,
      address: tenant.address,
      schemaName,
      createdAt: tenant.createdAt.toISOString(),
      suspendedAt: iso(tenant.suspendedAt),
      suspensionReason: tenant.suspensionReason,
      suspensionReasonPublic: tenant.suspensionReasonPublic,
      openRegistration: tenant.openRegistration,
    },
    migrations: { state, applied: applied.map(({ module, version, name, checksum }) => ({ module, version, name, checksum })) },
    tables: described,
    ...(apiKeys && { apiKeys }),
    ...(domains && { domains }),
  }
  return { manifest, tables }
}

/**
 * Writes one tenant to `file` as a bundle (see bundle-format.ts): its registry row, every
 * module's migration state with the checksums of the applied files, per table its row count
 * and checksum, then every table's rows by `COPY ... TO STDOUT`, gzip-compressed.
 *
 * Reads one snapshot (a `REPEATABLE READ READ ONLY` transaction) while the tenant keeps
 * serving, and streams: memory stays bounded whatever the tenant's size (the driver pauses
 * the socket while the file is behind). The file appears complete or not at all: written
 * beside it, then renamed.
 */
export async function exportTenant(
  sql: Sql,
  schemaName: string,
  file: string,
  options: ExportTenantOptions & { actor: string },
): Promise<ExportSummary> {
  assertValidSchemaName(schemaName)
  const partial = `${file}.partial-${process.pid}`
  let bytes = 0
  let rows = 0
  let compressedBytes = 0
  let manifest: BundleManifest | undefined
  try {
    await sql.begin('isolation level repeatable read read only', async (tx) => {
      await useCanonicalText(tx)
      const read = await readManifest(tx, schemaName, options.withKeys ?? false, options.withDomains ?? false)
      manifest = read.manifest
      const totalRows = manifest.tables.reduce((sum, table) => sum + table.rows, 0)
      const tables = read.tables
      async function* content(): AsyncGenerator<Buffer> {
        yield BUNDLE_MAGIC
        yield* frame(Buffer.from(JSON.stringify(manifest)))
        for (const table of tables) {
          for await (const chunk of tableRows(tx, schemaName, table)) {
            bytes += chunk.length
            rows += countRows(chunk)
            for (let at = 0; at < chunk.length; at += FRAME_TARGET_BYTES) yield* frame(chunk.subarray(at, at + FRAME_TARGET_BYTES))
            options.onProgress?.({ table: table.name, rows, totalRows, bytes })
          }
          yield* frame(Buffer.alloc(0))
          options.onProgress?.({ table: table.name, rows, totalRows, bytes })
        }
      }
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          compressedBytes += chunk.length
          callback(null, chunk)
        },
      })
      await pipeline(Readable.from(content()), createGzip(), counter, createWriteStream(partial) as Writable)
    })
    await rename(partial, file)
  } catch (error) {
    await rm(partial, { force: true })
    throw error
  }
  const done = manifest!
  await recordAuditEvent(sql, options.actor, {
    action: 'tenant.export',
    tenantId: done.tenant.id,
    schemaName,
    detail: {
      rows,
      bytes,
      withKeys: done.apiKeys !== undefined,
      withDomains: done.domains !== undefined,
      ...(done.domains && { domains: done.domains.map((domain) => domain.host) }),
      migrations: done.migrations.state,
    },
  })
  return {
    file,
    schemaName,
    tables: done.tables.map((table) => ({ name: table.name, rows: table.rows })),
    rows,
    bytes,
    compressedBytes,
    apiKeys: done.apiKeys?.length ?? 0,
    domains: done.domains?.length ?? 0,
    migrations: done.migrations.state,
  }
}
