/**
 * @tenantbase/core: every rule of tenantbase. The api and the cli are thin edges over it.
 * Re-exports only: the public API, what the edges, the examples and the benchmarks use.
 * Helpers for tests and benchmarks are in `@tenantbase/core/testing`.
 */

/** `loadConfig(process.env)` validates every variable at once and returns a frozen {@link Config}, or throws a `ConfigError` listing every problem. */
export { loadConfig, TENANT_SOURCES, type Config, type TenantResolutionConfig, type TenantSource } from './config.js'

/** Typed errors: each has a stable `code`, listed in this package's README; the edges map classes, once. */
export {
  CoreError,
  ValidationError,
  ConfigError,
  NotFoundError,
  ConflictError,
  AuthenticationError,
  ForbiddenError,
  MigrationError,
  DatabaseUnavailableError,
  WriteOutcomeUnknownError,
  RevocationsNotHeardError,
} from './errors.js'

// The database.
/** `openDatabase(config.database)`: a pool on the configured server, or on the embedded development cluster. */
export { openDatabase, type Database } from './db/connect.js'
/** The driver's pool and transaction types as core's services receive them. */
export type { Sql, TransactionSql, SchemaIdentifier } from './db/sql.js'
/** `createPool(url, options)`: a postgres.js pool with tenantbase's settings (see connect.ts). */
export { createPool } from './db/connect.js'
/** A driver error as a core error: a lost connection becomes {@link DatabaseUnavailableError}. */
export { explainDatabaseError } from './db/connect.js'
/** A PostgreSQL cluster of its own under a folder (development, tests, benchmarks). */
export {
  startEmbeddedCluster,
  inspectEmbeddedCluster,
  stopEmbeddedPostgres,
  type EmbeddedCluster,
  type EmbeddedClusterOptions,
  type EmbeddedClusterState,
} from './db/embedded.js'
/** `InTenant` runs a tenant's queries (services.inTenant): `inTenant(tenant, ({ sql, schema }) => ...)` on its connection, its schema validated and escaped. */
export { TenantGoneError, type InTenant, type TenantRef, type TenantScope } from './db/tenant-scope.js'
/** What a driver error means in core's terms (a lost connection or a query timeout: DatabaseUnavailableError), for code that queries outside the services. */
export { toCoreError } from './db/pg-errors.js'
/** A lost connection during a write without an idempotency key: unknown outcome (WriteOutcomeUnknownError) unless nothing was sent. */
export { asWriteFailure } from './db/pg-errors.js'
/** Exactly-once writes for clients that retry (services.idempotency): keys, fingerprints, stored answers. */
export {
  assertValidIdempotencyKey,
  requestFingerprint,
  type IdempotencyService,
  type IdempotentOutcome,
  type IdempotentRequest,
  type StoredAnswer,
} from './idempotency/idempotency-service.js'
/** Each tenant's queries on a home connection of its own (Database.tenantConnections). */
export { createTenantConnections, type TenantConnections } from './db/tenant-connections.js'
/** A pool's connections and waiting queue as postgres.js counts them (services.driverPoolStats). */
export type { DriverPoolStats } from './db/pool-stats.js'

// The services.
/** Every core service wired to one pool; the api and the cli build this once at start. */
export { createServices, type Services } from './services.js'

// Tenants and schema names.
/** A tenant as stored, as listed (with its active keys), after a suspension or resumption, and the longest name. */
export {
  type Tenant,
  type TenantSummary,
  type TenantStateChange,
  type DeletedTenant,
  MAX_TENANT_NAME_LENGTH,
} from './tenants/tenant-service.js'
/** Why a name cannot be a tenant schema, a valid one derived from a display name, and the length limit. */
export { schemaNameProblem, suggestSchemaName, MAX_SCHEMA_NAME_BYTES } from './db/schema-name.js'

// API keys.
/** Key scopes (`read`, `write`) and the rule of what each may do. */
export { API_KEY_SCOPES, type ApiKeyScope } from './api-keys/api-key-store.js'
export { assertKeyScope } from './api-keys/api-key-resolver.js'
/** A key (never its secret), as issued (the secret shown once), as listed (with its status), after a rotation, and the longest name. */
export { type ApiKeyInfo, type IssuedApiKey, type ListedApiKey, type RotatedApiKey, MAX_KEY_NAME_LENGTH } from './api-keys/api-key-store.js'
/** The tenant a presented key resolves to, with the key's prefix and scope. */
export { type ResolvedTenant } from './api-keys/api-key-resolver.js'
/** Tenant domains: host names validated and normalised, the registry's rows, the request path's answer. */
export { parseHostName, normaliseHostName, MAX_HOST_NAME_LENGTH } from './domains/host-name.js'
export { type TenantDomain, type DomainChange, type RegistrationChange } from './domains/domain-store.js'
export { type HostTenant } from './domains/host-resolver.js'

// The audit log of operator actions (shared schema; outlives deleted tenants).
/** The recorded actions, an event as listed, and the most one listing returns. */
export { AUDIT_ACTIONS, MAX_AUDIT_LIMIT, type AuditEvent } from './audit/audit-log.js'

// Users, sessions and posts (tenant schema).
/** A user, the email form logins are compared in, and the password length limits. */
export { type User, normaliseEmail, PASSWORD_MIN_BYTES, PASSWORD_MAX_BYTES } from './users/user-service.js'
/** A refresh token as issued at login or refresh. */
export { type IssuedRefreshToken } from './sessions/refresh-token-service.js'
/** The JWT signing secret: JWT_SECRET, or one generated once under the data folder in development. */
export { loadOrCreateJwtSecret } from './auth-secret.js'
/** A post, and a page of posts with its cursor. */
export { type Post, type PostPage } from './posts/post-service.js'

// Modules and the deployment.
/** A module (its migrations, service and routes), a deployment's `tenantbase.config.*`, and their typing helpers. */
export { defineModule, defineConfig, type TenantbaseModule, type TenantbaseConfig } from './modules/module.js'
/** Core's own tables as a module, always the first of a deployment. */
export { coreModule } from './modules/core-module.js'
/** Reads the deployment every entry point runs: core and the modules of its config file, with their migrations. */
export { loadDeployment, findConfigFile, CONFIG_FILE_NAMES, type Deployment } from './modules/load-deployment.js'

// Migrations.
/** Core's migration folder, reading migration lists, and per-module states: the latest, the pending files, for people. */
export {
  DEFAULT_MIGRATIONS_DIR,
  readMigrations,
  readMigrationList,
  readModuleMigrations,
  latestState,
  pendingMigrations,
  formatState,
  migrationLabel,
  statementsOf,
  type Migration,
  type MigrationSet,
  type MigrationState,
} from './migrations/catalog.js'
/** What `services.migrateAll` reports as it runs and when it ends. */
export { type MigrateAllReport, type MigrationProgress } from './migrations/migrate-all.js'
/** Where a schema stands against a migration list: its state, the latest, the pending files. */
export { migrationState, type SchemaMigrationState, type TenantMigrationState } from './migrations/migration-status.js'

// Tenant bundles: one tenant out to a file and back in (services.bundles).
/** What an export, an import and a restore report, their options, and their progress (rows and bytes). */
export { type BundleProgress, type ExportSummary, type ExportTenantOptions } from './tenant-bundles/export-tenant.js'
export {
  type ImportSummary,
  type ImportTenantOptions,
  type RestoreSummary,
  type RestoreTenantOptions,
} from './tenant-bundles/import-tenant.js'
/** The bundle's manifest and the format version this core writes and reads (docs/backups.md describes the format). */
export { BUNDLE_FORMAT_VERSION } from './tenant-bundles/bundle-format.js'
export type { BundleManifest } from './tenant-bundles/bundle-manifest.js'

// Citus.
/** A worker node as `host:port`, both ways, and a live move's progress. */
export { formatNode, parseNode, type MoveProgress } from './citus/citus-service.js'

// Consistency checks.
/** One inconsistency `services.findInconsistencies` found, with its fix. */
export { type Finding } from './doctor/find-inconsistencies.js'
