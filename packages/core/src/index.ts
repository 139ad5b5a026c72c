/**
 * @tenantbase/core: every rule of tenantbase. The api and the cli are thin edges over it.
 * Re-exports only.
 */

/** Configuration: `loadConfig(process.env)` validates everything at once. */
export { loadConfig, type Config, type DatabaseConfig, type LoadConfigOptions } from './config.js'

/** Typed errors; each has a stable `code` (listed in this package's README). */
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
  RevocationsNotHeardError,
} from './errors.js'

/** Database: the pool, the embedded cluster, and the tenant scoping helpers. */
export { openDatabase, createPool, databaseAddress, explainDatabaseError, type Database, type Sql, type TransactionSql, type PoolOptions } from './db/connect.js'
export { startEmbeddedCluster, type EmbeddedCluster, type EmbeddedClusterOptions } from './db/embedded.js'
export { schemaOf, inTenantTransaction, TenantGoneError, type InTenant, type TenantRef } from './db/tenant-scope.js'
export { createTenantConnections, type TenantConnections } from './db/tenant-connections.js'
export { pingDatabase } from './db/health.js'
export { poolConnectionStats, type PoolConnectionStats } from './db/pool-stats.js'

/** All services wired to one pool. */
export { createServices, type Services, type ServicesOptions } from './services.js'

/** Tenants and schema names. */
export {
  createTenantService,
  type TenantService,
  type Tenant,
  type TenantSummary,
  type CreateTenantInput,
  type SuspendTenantInput,
  type TenantStateChange,
  type DeleteTenantOptions,
} from './tenants/tenant-service.js'
export { assertValidSchemaName, schemaNameProblem, suggestSchemaName, MAX_SCHEMA_NAME_BYTES } from './tenants/schema-name.js'

/** Api keys. */
export {
  createApiKeyService,
  assertKeyScope,
  API_KEY_SCOPES,
  type ApiKeyScope,
  type ApiKeyService,
  type ApiKeyInfo,
  type IssuedApiKey,
  type IssueApiKeyInput,
  type RotateApiKeyInput,
  type RotatedApiKey,
  type ResolvedTenant,
} from './api-keys/api-key-service.js'

/** The audit log of operator actions (shared schema; outlives deleted tenants). */
export {
  createAuditLog,
  recordAuditEvent,
  defaultActor,
  assertValidActor,
  AUDIT_ACTIONS,
  MAX_AUDIT_LIMIT,
  type AuditLog,
  type AuditAction,
  type AuditEntry,
  type AuditEvent,
  type ListAuditEventsInput,
} from './audit/audit-log.js'
export { generateApiKey, digestApiKey, parseApiKey, isApiKeyPrefix } from './api-keys/key-format.js'

/** Users and posts (tenant schema). */
export {
  createUserService,
  normaliseEmail,
  PASSWORD_MIN_BYTES,
  PASSWORD_MAX_BYTES,
  type UserService,
  type User,
  type RegisterUserInput,
} from './users/user-service.js'
/** Refresh tokens (tenant schema): issued at login, rotated on refresh, revoked by family. */
export {
  createRefreshTokenService,
  digestRefreshToken,
  type RefreshTokenService,
  type IssuedRefreshToken,
} from './sessions/refresh-token-service.js'

/** Ended logins, remembered while their access tokens may live. */
export { createRevokedSessionStore, type RevokedSessionStore } from './sessions/revoked-sessions.js'

/** Revocations to every process: the one channel and its one listener per process. */
export { REVOCATION_CHANNEL, notifyRevocation, type RevocationKind } from './revocations/revocation-channel.js'
export {
  startRevocationListener,
  type ListenerState,
  type ListenerStatus,
  type RevocationListener,
  type RevocationListenerOptions,
} from './revocations/revocation-listener.js'

/** The JWT signing secret: JWT_SECRET, or one generated once under the data folder in development. */
export { loadOrCreateJwtSecret } from './auth-secret.js'

export { createPostService, type PostService, type Post, type PostInput, type ListPostsInput, type PostPage } from './posts/post-service.js'

/** Migrations. */
export { readMigrations, readMigrationList, latestVersion, DEFAULT_MIGRATIONS_DIR, type Migration, type MigrationSet } from './migrations/catalog.js'
export {
  migrateAll,
  type MigrateAllOptions,
  type MigrateAllReport,
  type MigrationProgress,
  type SchemaMigrationReport,
} from './migrations/migrate-all.js'
export { migrateSharedSchema, migrateTenantSchema, verifyTenantMigrationFiles } from './migrations/migrator.js'
export {
  migrationState,
  sharedSchemaState,
  migrationStatus,
  type SchemaMigrationState,
  type MigrationStatus,
} from './migrations/migration-status.js'

/** Citus: where each tenant schema lives, and moving one live. */
export {
  createCitusService,
  formatNode,
  parseNode,
  type CitusService,
  type CitusNode,
  type MoveProgress,
  type MoveTenantOptions,
} from './citus/citus-service.js'

/** Consistency checks for `tenantctl doctor`: registry, schemas, ledgers and files. */
export { findInconsistencies, type Finding, type FindingKind, type FindInconsistenciesOptions } from './doctor/find-inconsistencies.js'
