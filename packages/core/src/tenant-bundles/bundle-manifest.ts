import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { parseHostName } from '../domains/host-name.js'
import { ValidationError } from '../errors.js'
import { BUNDLE_FORMAT_VERSION } from './bundle-format.js'

// A bundle's manifest (see bundle-format.ts): its schema and its checks. Only a reader of
// bundles loads this module (load-bundle.ts imports it when it reads one), so that every
// other command starts without the schema library.

const invalid = (message: string, code = 'BUNDLE_INVALID') => new ValidationError(message, code)

const Identifier = Type.String({ pattern: '^[a-z_][a-z0-9_$]{0,62}$' })
const ModuleName = Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' })
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
/** As `Date.toISOString()` writes it. */
const Timestamp = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?Z$' })
const NullableTimestamp = Type.Union([Timestamp, Type.Null()])

const ManifestSchema = Type.Object(
  {
    format: Type.Literal('tenantbase-bundle'),
    formatVersion: Type.Integer(),
    createdAt: Timestamp,
    tenant: Type.Object({
      id: Count,
      name: Type.String({ minLength: 1, maxLength: 200 }),
      address: Type.String({ maxLength: 500 }),
      schemaName: Identifier,
      createdAt: Timestamp,
      suspendedAt: NullableTimestamp,
      suspensionReason: Type.Union([Type.String({ maxLength: 500 }), Type.Null()]),
      suspensionReasonPublic: Type.Boolean(),
      /** Absent in bundles written before it was carried: off. */
      openRegistration: Type.Optional(Type.Boolean()),
    }),
    migrations: Type.Object({
      state: Type.Record(ModuleName, Count),
      applied: Type.Array(
        Type.Object({
          module: ModuleName,
          version: Count,
          name: Type.String({ maxLength: 200 }),
          checksum: Type.String({ pattern: '^[0-9a-f]{64}$' }),
        }),
        { maxItems: 10_000 },
      ),
    }),
    tables: Type.Array(
      Type.Object({
        name: Identifier,
        columns: Type.Array(Identifier, { minItems: 1, maxItems: 1600 }),
        rows: Count,
        /** The sum of the first 64 bits (signed) of md5(row::text) over every row, as a decimal. */
        checksum: Type.String({ pattern: '^-?[0-9]{1,40}$' }),
        sequences: Type.Array(Type.Object({ column: Identifier, lastValue: Type.Union([Count, Type.Null()]) }), { maxItems: 1600 }),
      }),
      { maxItems: 1000 },
    ),
    apiKeys: Type.Optional(
      Type.Array(
        Type.Object({
          prefix: Type.String({ pattern: '^tb_[0-9a-f]{12}$' }),
          keyHash: Type.String({ pattern: '^[0-9a-f]{2,256}$' }),
          name: Type.String({ minLength: 1, maxLength: 100 }),
          scope: Type.Union([Type.Literal('read'), Type.Literal('write')]),
          createdAt: Timestamp,
          expiresAt: NullableTimestamp,
          revokedAt: NullableTimestamp,
          rotatedTo: Type.Union([Type.String({ pattern: '^tb_[0-9a-f]{12}$' }), Type.Null()]),
          lastUsedAt: NullableTimestamp,
        }),
        { maxItems: 100_000 },
      ),
    ),
    /** Only with `export --with-domains`: the tenant's host names, normalised, primary first. */
    domains: Type.Optional(
      Type.Array(Type.Object({ host: Type.String({ minLength: 1, maxLength: 253 }), primary: Type.Boolean() }), {
        maxItems: 10_000,
      }),
    ),
  },
  { additionalProperties: false },
)

/** What a bundle says about its tenant, before its rows: see docs/backups.md. */
export type BundleManifest = Static<typeof ManifestSchema>
/** One table of a bundle: its columns as copied, its row count and checksum, its sequences. */
export type BundleTable = BundleManifest['tables'][number]
/** An api key as a bundle carries it (its hash, never the key). */
export type BundleApiKey = NonNullable<BundleManifest['apiKeys']>[number]
/** A host name as a bundle carries it. */
export type BundleDomain = NonNullable<BundleManifest['domains']>[number]

/** Parses and checks a manifest's JSON: the format's version first, then every field at once. */
export function parseManifest(bytes: Buffer): BundleManifest {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw invalid('not a tenant bundle: its manifest is not JSON')
  }
  const version = (value as { formatVersion?: unknown } | null)?.formatVersion
  if ((value as { format?: unknown } | null)?.format !== 'tenantbase-bundle')
    throw invalid('not a tenant bundle: its manifest names no bundle format')
  if (version !== BUNDLE_FORMAT_VERSION) {
    throw invalid(
      `bundle format version ${JSON.stringify(version)} is not supported: this tenantbase reads version ${BUNDLE_FORMAT_VERSION}`,
      'BUNDLE_FORMAT_UNSUPPORTED',
    )
  }
  if (!Value.Check(ManifestSchema, value)) {
    const problems = [...Value.Errors(ManifestSchema, value)].slice(0, 5).map((error) => `${error.path || '/'}: ${error.message}`)
    throw new ValidationError(`the bundle's manifest is invalid: ${problems.join('; ')}`, 'BUNDLE_INVALID', problems)
  }
  const manifest = value
  const names = new Set<string>()
  for (const table of manifest.tables) {
    if (names.has(table.name)) throw invalid(`the bundle's manifest lists table ${table.name} twice`)
    names.add(table.name)
    if (new Set(table.columns).size !== table.columns.length) throw invalid(`the bundle's manifest lists a column of ${table.name} twice`)
    for (const sequence of table.sequences) {
      if (!table.columns.includes(sequence.column))
        throw invalid(`the bundle's manifest names a sequence on ${table.name}.${sequence.column}, not a column it copies`)
    }
  }
  if (manifest.domains !== undefined) {
    const hosts = new Set<string>()
    for (const { host } of manifest.domains) {
      const parsed = parseHostName(host)
      if ('problem' in parsed || parsed.host !== host) throw invalid(`the bundle's manifest lists a domain that is no normalised host name`)
      if (hosts.has(host)) throw invalid(`the bundle's manifest lists domain ${host} twice`)
      hosts.add(host)
    }
    if (manifest.domains.filter((domain) => domain.primary).length > 1) throw invalid(`the bundle's manifest lists two primary domains`)
  }
  return manifest
}
