import path from 'node:path'
import { existsSync } from 'node:fs'
import { ConfigError } from './errors.js'
import { parseHostName } from './domains/host-name.js'
import { DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS, DEFAULT_IDEMPOTENCY_WAIT_MS } from './idempotency/idempotency-service.js'

/** Seconds a pooled connection lives, unless configured (DB_CONNECTION_MAX_LIFETIME_SECONDS). */
export const DEFAULT_CONNECTION_MAX_LIFETIME_SECONDS = 600

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
/** An on/off switch in the environment. */
const SWITCH_VALUES = ['true', 'false', '1', '0'] as const
/** PostgreSQL's plan_cache_mode for the tenants' connections: `auto` is the server's own. */
const TENANT_PLAN_CACHE_MODES = ['force_generic_plan', 'auto'] as const

/** What a variable's reader says of a value it refuses: the words after the variable's name. */
class Refusal {
  constructor(readonly reason: string) {}
}
/** Reads one variable's raw value (undefined when unset or empty) into its typed value. */
type Reader<T> = (raw: string | undefined) => T | Refusal

function integer(min: number, max: number | undefined, fallback: number): Reader<number>
function integer(min: number, max?: number): Reader<number | undefined>
function integer(min: number, max?: number, fallback?: number): Reader<number | undefined> {
  const range = max === undefined ? `of ${min} or more` : `from ${min} to ${max}`
  return (raw) => {
    if (raw === undefined) return fallback
    const value = /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN
    return Number.isSafeInteger(value) && value >= min && (max === undefined || value <= max)
      ? value
      : new Refusal(`must be a whole number ${range}, not "${raw}"`)
  }
}

/** A value's text is never echoed: it may be a secret or a URL holding one. */
function text(fallback: string): Reader<string>
function text(fallback?: undefined, format?: { pattern: RegExp; says: string }): Reader<string | undefined>
function text(fallback?: string, format?: { pattern: RegExp; says: string }): Reader<string | undefined> {
  return (raw) => {
    if (raw === undefined) return fallback
    return format && !format.pattern.test(raw) ? new Refusal(format.says) : raw
  }
}

function oneOf<const T extends string>(values: readonly T[], fallback: T): Reader<T> {
  return (raw) => {
    if (raw === undefined) return fallback
    return (values as readonly string[]).includes(raw) ? (raw as T) : new Refusal(`must be one of ${values.join(', ')}, not "${raw}"`)
  }
}

const POSTGRES_URL = { pattern: /^postgres(ql)?:\/\//, says: 'must be a postgres:// or postgresql:// URL' }

/**
 * Every environment variable tenantbase reads, with its default. The README's
 * configuration table is this table in prose; keep them together.
 */
const ENV = {
  DATABASE_URL: text(undefined, POSTGRES_URL),
  DATABASE_LISTEN_URL: text(undefined, POSTGRES_URL),
  POSTGRES_HOST: text(),
  POSTGRES_PORT: integer(1, 65535, 5432),
  POSTGRES_DB: text('tenantbase'),
  POSTGRES_USER: text('postgres'),
  // NOTE: no default: a secret has one only for the embedded database (EMBEDDED_PASSWORD).
  POSTGRES_PASSWORD: text(),
  DB_POOL_MAX: integer(1, 1000, 10),
  DB_TENANT_CONNECTIONS: integer(0, 1000, 10),
  // postgres.js's `prepare` is on or off; 0 and 1 are accepted as well as false and true.
  DB_PREPARED_STATEMENTS: oneOf(SWITCH_VALUES, 'true'),
  DB_TENANT_PLAN_CACHE_MODE: oneOf(TENANT_PLAN_CACHE_MODES, 'force_generic_plan'),
  DB_TENANT_CONNECTION_MAX_MB: integer(0, 1_000_000, 0),
  DB_CONNECTION_MAX_LIFETIME_SECONDS: integer(10, 86_400, DEFAULT_CONNECTION_MAX_LIFETIME_SECONDS),
  DB_QUERY_TIMEOUT_MS: integer(0, 3_600_000, 0),
  DATA_DIR: text(),
  EMBEDDED_PG_PORT: integer(1, 65535, 54320),
  HOST: text('localhost'),
  PORT: integer(0, 65535, 8000),
  LOG_LEVEL: oneOf(LOG_LEVELS, 'info'),
  JWT_SECRET: text(),
  ACCESS_TOKEN_TTL_SECONDS: integer(30, 86_400, 900),
  REFRESH_TOKEN_TTL_SECONDS: integer(60, 31_536_000, 2_592_000),
  IDEMPOTENCY_KEY_TTL_SECONDS: integer(60, 2_592_000, DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS),
  IDEMPOTENCY_WAIT_MS: integer(1, 600_000, DEFAULT_IDEMPOTENCY_WAIT_MS),
  BCRYPT_COST: integer(10, 15, 12),
  API_KEY_CACHE_TTL_MS: integer(0, 3_600_000, 30_000),
  API_KEY_CACHE_MAX: integer(0, 10_000_000, 10_000),
  LOGIN_MAX_FAILURES_PER_EMAIL: integer(1, undefined, 10),
  LOGIN_FAILURE_WINDOW_SECONDS: integer(1, undefined, 900),
  LOGIN_MAX_ATTEMPTS_PER_ADDRESS: integer(1, undefined, 100),
  LOGIN_ATTEMPT_WINDOW_SECONDS: integer(1, undefined, 60),
  // `true`, `false`, or the addresses to trust (see the README).
  TRUST_PROXY: text('false'),
  REQUEST_TIMEOUT_MS: integer(100, 600_000, 30_000),
  BODY_LIMIT_BYTES: integer(1024, 104_857_600, 1_048_576),
  API_KEY_RATE_LIMIT_MAX: integer(0, undefined, 0),
  API_KEY_RATE_LIMIT_WINDOW_MS: integer(10, 3_600_000, 100),
  CORS_ORIGINS: text(),
  METRICS_PORT: integer(1, 65535),
  METRICS_PER_TENANT: integer(0, 10_000, 0),
  TENANT_RESOLUTION: text('api-key'),
  TENANT_BASE_DOMAIN: text(),
} satisfies Record<string, Reader<unknown>>
type Env = { readonly [Name in keyof typeof ENV]: Exclude<ReturnType<(typeof ENV)[Name]>, Refusal> }

/** Every variable of {@link ENV} read from `data`, or, when any is refused, every refusal. */
function readEnv(data: Record<string, string | undefined>): { env: Env } | { problems: string[] } {
  const env: Record<string, unknown> = {}
  const problems: string[] = []
  for (const [name, read] of Object.entries(ENV)) {
    const value = (read as Reader<unknown>)(data[name])
    if (value instanceof Refusal) problems.push(`${name} ${value.reason}`)
    else env[name] = value
  }
  return problems.length > 0 ? { problems } : { env: env as Env }
}

/** How the pool talks to the database, whichever it is. */
export interface PoolConfig {
  /** Connections of the shared pool (registry, keys, migrations). */
  readonly poolMax: number
  /** Connections the tenants' queries are homed on (0: they share the pool). */
  readonly tenantConnections: number
  /** Whether statements are prepared on the server (off behind a transaction-mode PgBouncer < 1.21). */
  readonly preparedStatements: boolean
  /**
   * The home connections' plan_cache_mode: `force_generic_plan` plans a prepared tenant
   * statement once per connection; `auto` (PostgreSQL's default) plans it afresh for each of its
   * first five executions there, which at many tenants per connection is most of them.
   */
  readonly tenantPlanCacheMode: (typeof TENANT_PLAN_CACHE_MODES)[number]
  /**
   * A home connection whose server backend holds more than this many MB (its memory contexts:
   * catalog caches, plans) is replaced by a new one; 0: never (the lifetime still applies).
   */
  readonly tenantConnectionMaxMb: number
  /** Seconds a server connection lives before the pool replaces it (bounds its prepared statements). */
  readonly connectionMaxLifetimeSeconds: number
  /**
   * Milliseconds a query may wait for a connection and run before it is canceled and fails
   * with DatabaseUnavailableError (0: no limit): the backstop for a server that goes silent.
   */
  readonly queryTimeoutMs: number
}

/** Where the database comes from: a server we are given, or the embedded cluster we run. */
export type DatabaseConfig =
  | ({
      readonly mode: 'external'
      readonly url: string
      /** Where the connection that LISTENs for revocations goes (DATABASE_LISTEN_URL, else `url`). */
      readonly listenUrl: string
    } & PoolConfig)
  | ({
      readonly mode: 'embedded'
      readonly url: string
      readonly listenUrl: string
      readonly dataDir: string
      readonly port: number
      readonly user: string
      readonly password: string
      readonly database: string
    } & PoolConfig)

/** The validated, frozen configuration every entry point passes down. */
export interface Config {
  readonly database: DatabaseConfig
  /** Folder for local state: the embedded cluster and the development JWT secret. */
  readonly dataDir: string
  readonly http: {
    readonly host: string
    readonly port: number
    readonly trustProxy: boolean | string
    readonly requestTimeoutMs: number
    readonly bodyLimitBytes: number
    /** Requests per api key per window, in each API process (0: no limit). */
    readonly apiKeyRateLimitMax: number
    readonly apiKeyRateLimitWindowMs: number
    /** Origins a browser may call the API from (CORS): a list, `'*'` for any, empty for none. */
    readonly corsOrigins: '*' | readonly string[]
  }
  readonly logLevel: (typeof LOG_LEVELS)[number]
  readonly auth: {
    /**
     * Undefined in embedded development mode (one is generated under dataDir), and always
     * when loaded with `signsTokens: false`.
     */
    readonly jwtSecret: string | undefined
    readonly accessTokenTtlSeconds: number
    readonly refreshTokenTtlSeconds: number
    readonly bcryptCost: number
    readonly loginMaxFailuresPerEmail: number
    readonly loginFailureWindowSeconds: number
    readonly loginMaxAttemptsPerAddress: number
    readonly loginAttemptWindowSeconds: number
  }
  readonly apiKeyCache: { readonly ttlMs: number; readonly max: number }
  /**
   * Requests sent with an Idempotency-Key: how long a stored answer is replayed, and how long a
   * repeat waits for the first request with its key before IDEMPOTENCY_KEY_IN_USE.
   */
  readonly idempotency: { readonly keyTtlSeconds: number; readonly waitMs: number }
  /** How a request finds its tenant (TENANT_RESOLUTION, TENANT_BASE_DOMAIN). */
  readonly tenantResolution: TenantResolutionConfig
  readonly metrics: {
    /** The port of the API's own metrics server (`GET /metrics`); undefined: no metrics. */
    readonly port: number | undefined
    /** Tenants given series of their own, at most (0: none); the rest are counted as one. */
    readonly perTenant: number
  }
}

/** Where a request's tenant can come from, in the order they are asked. */
export const TENANT_SOURCES = ['api-key', 'host'] as const
export type TenantSource = (typeof TENANT_SOURCES)[number]

export interface TenantResolutionConfig {
  /**
   * The sources asked, in order: `api-key` always first (a presented key decides, and is always
   * verified), then `host` when the host name may name the tenant too.
   */
  readonly order: readonly TenantSource[]
  /** Whose one-label subdomains name tenants by schema (`acme.example.com`: schema `acme`); undefined: none. */
  readonly baseDomain: string | undefined
}

/**
 * TENANT_RESOLUTION: sources separated by commas, `api-key` first (`api-key` or
 * `api-key,host`); TENANT_BASE_DOMAIN: a host name (one label allowed: `localhost`).
 */
function parseTenantResolution(order: string | undefined, baseDomain: string | undefined, problems: string[]): TenantResolutionConfig {
  const sources = (order ?? 'api-key')
    .split(',')
    .map((source) => source.trim())
    .filter(Boolean)
  const unknown = sources.filter((source) => !(TENANT_SOURCES as readonly string[]).includes(source))
  if (unknown.length > 0)
    problems.push(`TENANT_RESOLUTION: unknown source ${unknown.map((s) => `"${s}"`).join(', ')} (known: ${TENANT_SOURCES.join(', ')})`)
  else if (new Set(sources).size !== sources.length) problems.push('TENANT_RESOLUTION names a source twice')
  else if (sources[0] !== 'api-key')
    problems.push('TENANT_RESOLUTION starts with api-key (api-key or api-key,host): a presented api key always decides the tenant')
  let base: string | undefined
  if (baseDomain !== undefined) {
    const parsed = parseHostName(baseDomain, { singleLabel: true })
    if ('problem' in parsed) problems.push(`TENANT_BASE_DOMAIN: ${parsed.problem}`)
    else base = parsed.host
    if (!sources.includes('host')) problems.push('TENANT_BASE_DOMAIN needs TENANT_RESOLUTION=api-key,host')
  }
  return { order: sources as TenantSource[], baseDomain: base }
}

/**
 * CORS_ORIGINS: `*`, or origins separated by commas (`https://app.example.com,
 * http://localhost:5173`), each exactly as a browser sends it in `Origin`.
 */
function parseCorsOrigins(value: string | undefined, problems: string[]): '*' | readonly string[] {
  const origins = (value ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean)
  if (origins.length === 1 && origins[0] === '*') return '*'
  if (origins.includes('*')) problems.push('CORS_ORIGINS is either * alone or a list of origins')
  for (const origin of origins.filter((origin) => origin !== '*')) {
    let parsed: URL | undefined
    try {
      parsed = new URL(origin)
    } catch {
      parsed = undefined
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
      problems.push(`CORS_ORIGINS: "${origin}" is not an origin like https://app.example.com (scheme, host and port only)`)
    }
  }
  return origins
}

/** The embedded development cluster's password, used only when nothing else is configured. */
const EMBEDDED_PASSWORD = 'postgres'

export interface LoadConfigOptions {
  /** Where a relative DATA_DIR (and the default `.data/`) is resolved from. */
  readonly cwd?: string
  /**
   * Whether this process signs and verifies access tokens (the API: the default). When
   * false (tenantctl), JWT_SECRET is neither required nor checked.
   */
  readonly signsTokens?: boolean
}

/**
 * The problems that need more than one variable to see, checked on the raw values so they
 * are reported together with the schema's (a bad PORT and a missing JWT_SECRET at once).
 */
function crossFieldProblems(data: Record<string, string | undefined>, signsTokens: boolean): string[] {
  const problems: string[] = []
  const external = data.DATABASE_URL !== undefined || data.POSTGRES_HOST !== undefined
  if (data.DATABASE_URL === undefined && data.POSTGRES_HOST !== undefined && data.POSTGRES_PASSWORD === undefined) {
    problems.push('POSTGRES_PASSWORD is required with POSTGRES_HOST (only the embedded database has a default password)')
  }
  if (data.DATABASE_LISTEN_URL !== undefined && !external) {
    problems.push('DATABASE_LISTEN_URL needs DATABASE_URL or POSTGRES_HOST (the embedded database is listened to directly)')
  }
  if (data.METRICS_PORT !== undefined && Number(data.METRICS_PORT) === Number(data.PORT ?? 8000)) {
    problems.push('METRICS_PORT must differ from PORT (metrics are served apart from the API)')
  }
  if (signsTokens) {
    const jwtSecret = data.JWT_SECRET
    if (external && jwtSecret === undefined) {
      problems.push('JWT_SECRET is required when the database is not the embedded one (at least 32 bytes)')
    }
    if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) problems.push('JWT_SECRET must be at least 32 bytes long')
  }
  return problems
}

/** The repository root (the folder holding pnpm-workspace.yaml) or, outside one, `cwd`. */
function findProjectRoot(cwd: string): string {
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir
    if (path.dirname(dir) === dir) return cwd
  }
}

/**
 * Reads and validates the configuration from `env` (normally `process.env`).
 * Every problem is reported at once, in one pass, in one {@link ConfigError}.
 */
export function loadConfig(env: Record<string, string | undefined>, options: LoadConfigOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd()
  const signsTokens = options.signsTokens ?? true
  const data = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''))
  const problems: string[] = []
  const read = readEnv(data)
  const parsed = 'env' in read ? read.env : undefined
  if ('problems' in read) problems.push(...read.problems)
  problems.push(...crossFieldProblems(data, signsTokens))
  const corsOrigins = parseCorsOrigins(data.CORS_ORIGINS, problems)
  const tenantResolution = parseTenantResolution(data.TENANT_RESOLUTION, data.TENANT_BASE_DOMAIN, problems)
  if (problems.length > 0 || parsed === undefined) throw new ConfigError(problems)

  const dataDir = path.resolve(cwd, parsed.DATA_DIR ?? path.join(findProjectRoot(cwd), '.data'))
  const pool: PoolConfig = {
    poolMax: parsed.DB_POOL_MAX,
    tenantConnections: parsed.DB_TENANT_CONNECTIONS,
    preparedStatements: parsed.DB_PREPARED_STATEMENTS === 'true' || parsed.DB_PREPARED_STATEMENTS === '1',
    tenantPlanCacheMode: parsed.DB_TENANT_PLAN_CACHE_MODE,
    tenantConnectionMaxMb: parsed.DB_TENANT_CONNECTION_MAX_MB,
    connectionMaxLifetimeSeconds: parsed.DB_CONNECTION_MAX_LIFETIME_SECONDS,
    queryTimeoutMs: parsed.DB_QUERY_TIMEOUT_MS,
  }
  let database: DatabaseConfig
  if (parsed.DATABASE_URL !== undefined) {
    database = { mode: 'external', url: parsed.DATABASE_URL, listenUrl: parsed.DATABASE_LISTEN_URL ?? parsed.DATABASE_URL, ...pool }
  } else if (parsed.POSTGRES_HOST !== undefined) {
    const auth = `${encodeURIComponent(parsed.POSTGRES_USER)}:${encodeURIComponent(parsed.POSTGRES_PASSWORD!)}`
    const url = `postgres://${auth}@${parsed.POSTGRES_HOST}:${parsed.POSTGRES_PORT}/${encodeURIComponent(parsed.POSTGRES_DB)}`
    database = { mode: 'external', url, listenUrl: parsed.DATABASE_LISTEN_URL ?? url, ...pool }
  } else {
    const port = parsed.EMBEDDED_PG_PORT
    const password = parsed.POSTGRES_PASSWORD ?? EMBEDDED_PASSWORD
    const auth = `${encodeURIComponent(parsed.POSTGRES_USER)}:${encodeURIComponent(password)}`
    const url = `postgres://${auth}@127.0.0.1:${port}/${encodeURIComponent(parsed.POSTGRES_DB)}`
    database = {
      mode: 'embedded',
      url,
      listenUrl: url,
      ...pool,
      dataDir: path.join(dataDir, 'postgres'),
      port,
      user: parsed.POSTGRES_USER,
      password,
      database: parsed.POSTGRES_DB,
    }
  }
  const jwtSecret = signsTokens ? parsed.JWT_SECRET : undefined

  const trustProxy = parsed.TRUST_PROXY === 'true' ? true : parsed.TRUST_PROXY === 'false' ? false : parsed.TRUST_PROXY
  return deepFreeze({
    database,
    dataDir,
    http: {
      host: parsed.HOST,
      port: parsed.PORT,
      trustProxy,
      requestTimeoutMs: parsed.REQUEST_TIMEOUT_MS,
      bodyLimitBytes: parsed.BODY_LIMIT_BYTES,
      apiKeyRateLimitMax: parsed.API_KEY_RATE_LIMIT_MAX,
      apiKeyRateLimitWindowMs: parsed.API_KEY_RATE_LIMIT_WINDOW_MS,
      corsOrigins,
    },
    logLevel: parsed.LOG_LEVEL,
    auth: {
      jwtSecret,
      accessTokenTtlSeconds: parsed.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: parsed.REFRESH_TOKEN_TTL_SECONDS,
      bcryptCost: parsed.BCRYPT_COST,
      loginMaxFailuresPerEmail: parsed.LOGIN_MAX_FAILURES_PER_EMAIL,
      loginFailureWindowSeconds: parsed.LOGIN_FAILURE_WINDOW_SECONDS,
      loginMaxAttemptsPerAddress: parsed.LOGIN_MAX_ATTEMPTS_PER_ADDRESS,
      loginAttemptWindowSeconds: parsed.LOGIN_ATTEMPT_WINDOW_SECONDS,
    },
    apiKeyCache: { ttlMs: parsed.API_KEY_CACHE_TTL_MS, max: parsed.API_KEY_CACHE_MAX },
    idempotency: { keyTtlSeconds: parsed.IDEMPOTENCY_KEY_TTL_SECONDS, waitMs: parsed.IDEMPOTENCY_WAIT_MS },
    tenantResolution,
    metrics: { port: parsed.METRICS_PORT, perTenant: parsed.METRICS_PER_TENANT },
  })
}

function deepFreeze<T>(value: T): T {
  for (const inner of Object.values(value as object)) {
    if (inner !== null && typeof inner === 'object') deepFreeze(inner)
  }
  return Object.freeze(value)
}
