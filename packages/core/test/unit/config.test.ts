import path from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/index.js'

t.test('defaults work on the embedded database', async (t) => {
  const config = loadConfig({}, { cwd: '/srv/app' })
  t.equal(config.database.mode, 'embedded')
  t.equal(config.http.port, 8000)
  t.equal(config.http.host, 'localhost')
  t.equal(config.logLevel, 'info')
  t.equal(config.auth.jwtSecret, undefined)
  t.equal(config.auth.bcryptCost, 12)
  if (config.database.mode === 'embedded') {
    t.equal(config.database.port, 54320)
    t.equal(config.database.dataDir, path.join('/srv/app', '.data', 'postgres'))
    t.match(config.database.url, /^postgres:\/\/postgres:postgres@127\.0\.0\.1:54320\/tenantbase$/)
  }
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.http), 'frozen')
})

t.test('numbers are parsed from strings', async (t) => {
  const config = loadConfig({
    PORT: '9000',
    EMBEDDED_PG_PORT: '6000',
    DB_POOL_MAX: '20',
    DB_CONNECTION_MAX_LIFETIME_SECONDS: '60',
    LOG_LEVEL: 'debug',
  })
  t.equal(config.http.port, 9000)
  t.equal(config.database.poolMax, 20)
  t.equal(config.database.connectionMaxLifetimeSeconds, 60)
  t.equal(config.logLevel, 'debug')
})

t.test('DB_QUERY_TIMEOUT_MS: how long a query may wait and run, 0 for no limit', async (t) => {
  t.equal(loadConfig({}).database.queryTimeoutMs, 0, 'no limit by default')
  t.equal(loadConfig({ DB_QUERY_TIMEOUT_MS: '30000' }).database.queryTimeoutMs, 30_000)
  for (const value of ['-1', '1.5', 'soon', '3600001'])
    t.throws(() => loadConfig({ DB_QUERY_TIMEOUT_MS: value }), /DB_QUERY_TIMEOUT_MS/, value)
})

t.test('DB_TENANT_CONNECTIONS: how many connections the tenants are homed on, 0 for none', async (t) => {
  t.equal(loadConfig({}).database.tenantConnections, 10, '10 by default')
  t.equal(loadConfig({ DB_TENANT_CONNECTIONS: '0' }).database.tenantConnections, 0, '0: tenants share the pool')
  t.equal(loadConfig({ DB_TENANT_CONNECTIONS: '32' }).database.tenantConnections, 32)
  for (const value of ['-1', '1.5', 'many']) t.throws(() => loadConfig({ DB_TENANT_CONNECTIONS: value }), /DB_TENANT_CONNECTIONS/, value)
})

t.test("DB_PREPARED_STATEMENTS is a switch, as postgres.js's prepare is", async (t) => {
  t.equal(loadConfig({}).database.preparedStatements, true, 'on by default')
  for (const [value, expected] of [
    ['0', false],
    ['false', false],
    ['1', true],
    ['true', true],
  ] as const) {
    t.equal(loadConfig({ DB_PREPARED_STATEMENTS: value }).database.preparedStatements, expected, value)
  }
  // A count (the old bounded meaning) is refused, not silently read as "on".
  t.throws(() => loadConfig({ DB_PREPARED_STATEMENTS: '200' }), /DB_PREPARED_STATEMENTS/)
})

t.test('every problem is reported at once', async (t) => {
  try {
    loadConfig({
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      DB_POOL_MAX: '0',
      DB_PREPARED_STATEMENTS: '200',
      DB_CONNECTION_MAX_LIFETIME_SECONDS: '1',
      BCRYPT_COST: '4',
    })
    t.fail('should throw')
  } catch (error) {
    t.type(error, ConfigError)
    const details = (error as ConfigError).details ?? []
    for (const name of [
      'PORT',
      'LOG_LEVEL',
      'DB_POOL_MAX',
      'DB_PREPARED_STATEMENTS',
      'DB_CONNECTION_MAX_LIFETIME_SECONDS',
      'BCRYPT_COST',
    ]) {
      t.ok(
        details.some((line) => line.startsWith(name)),
        `${name} reported: ${details.join(' | ')}`,
      )
    }
    t.equal((error as ConfigError).code, 'CONFIG_INVALID')
  }
})

t.test('an external database requires a strong JWT secret', async (t) => {
  t.throws(() => loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/app' }), /JWT_SECRET is required/)
  t.throws(() => loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/app', JWT_SECRET: 'short' }), /at least 32 bytes/)
  const config = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/app', JWT_SECRET: 'x'.repeat(32) })
  t.same(config.database, {
    mode: 'external',
    url: 'postgres://u:p@db:5432/app',
    listenUrl: 'postgres://u:p@db:5432/app',
    poolMax: 10,
    tenantConnections: 10,
    preparedStatements: true,
    tenantPlanCacheMode: 'force_generic_plan',
    tenantConnectionMaxMb: 0,
    connectionMaxLifetimeSeconds: 600,
    queryTimeoutMs: 0,
  })
  t.throws(() => loadConfig({ DATABASE_URL: 'mysql://nope', JWT_SECRET: 'x'.repeat(32) }), /DATABASE_URL/)
})

t.test('POSTGRES_* build the URL when DATABASE_URL is absent', async (t) => {
  const config = loadConfig({
    POSTGRES_HOST: 'postgres',
    POSTGRES_PORT: '5433',
    POSTGRES_DB: 'app',
    POSTGRES_USER: 'svc',
    POSTGRES_PASSWORD: 'p@ss word',
    JWT_SECRET: 'y'.repeat(40),
  })
  t.same(config.database, {
    mode: 'external',
    url: 'postgres://svc:p%40ss%20word@postgres:5433/app',
    listenUrl: 'postgres://svc:p%40ss%20word@postgres:5433/app',
    poolMax: 10,
    tenantConnections: 10,
    preparedStatements: true,
    tenantPlanCacheMode: 'force_generic_plan',
    tenantConnectionMaxMb: 0,
    connectionMaxLifetimeSeconds: 600,
    queryTimeoutMs: 0,
  })
})

t.test('empty values count as unset', async (t) => {
  t.equal(loadConfig({ DATABASE_URL: '', PORT: '' }).database.mode, 'embedded')
})

t.test('CORS_ORIGINS: off by default, a list of origins, or * alone', async (t) => {
  t.same(loadConfig({}).http.corsOrigins, [], 'off by default')
  t.equal(loadConfig({ CORS_ORIGINS: '*' }).http.corsOrigins, '*')
  t.same(loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' }).http.corsOrigins, [
    'https://app.example.com',
    'http://localhost:5173',
  ])
  try {
    loadConfig({ CORS_ORIGINS: '*,https://app.example.com,https://app.example.com/,app.example.com,ftp://files.example.com' })
    t.fail('should throw')
  } catch (error) {
    const details = (error as ConfigError).details ?? []
    t.ok(details.includes('CORS_ORIGINS is either * alone or a list of origins'), details.join(' | '))
    for (const origin of ['https://app.example.com/', 'app.example.com', 'ftp://files.example.com']) {
      t.ok(
        details.some((line) => line.includes(`"${origin}" is not an origin`)),
        `${origin} refused`,
      )
    }
    t.notOk(
      details.some((line) => line.includes('"https://app.example.com" is not')),
      'a real origin passes',
    )
  }
})

t.test('DATABASE_LISTEN_URL: a direct connection for LISTEN, only beside an external database', async (t) => {
  const external = { DATABASE_URL: 'postgres://u:p@bouncer:6432/app', JWT_SECRET: 'x'.repeat(32) }
  t.equal(loadConfig(external).database.listenUrl, 'postgres://u:p@bouncer:6432/app', 'defaults to DATABASE_URL')
  t.equal(loadConfig({ ...external, DATABASE_LISTEN_URL: 'postgres://u:p@db:5432/app' }).database.listenUrl, 'postgres://u:p@db:5432/app')
  t.throws(() => loadConfig({ ...external, DATABASE_LISTEN_URL: 'mysql://db/app' }), /DATABASE_LISTEN_URL/)
  t.throws(
    () => loadConfig({ DATABASE_LISTEN_URL: 'postgres://u:p@db:5432/app' }),
    /DATABASE_LISTEN_URL needs DATABASE_URL or POSTGRES_HOST/,
  )
})

t.test('metrics: off by default, on their own port, per-tenant series only when asked', async (t) => {
  t.same(loadConfig({}).metrics, { port: undefined, perTenant: 0 })
  t.same(loadConfig({ METRICS_PORT: '9464', METRICS_PER_TENANT: '50' }).metrics, { port: 9464, perTenant: 50 })
  t.throws(() => loadConfig({ METRICS_PORT: 'abc' }), /METRICS_PORT/)
  t.throws(() => loadConfig({ METRICS_PER_TENANT: '-1' }), /METRICS_PER_TENANT/)
  t.throws(() => loadConfig({ METRICS_PORT: '9464', PORT: '9464' }), /METRICS_PORT must differ from PORT/)
})

t.test('schema problems and cross-variable problems are reported in one pass', async (t) => {
  const error = t.throws(() => loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/app', PORT: 'abc' })) as ConfigError
  t.type(error, ConfigError)
  t.equal(error.details?.length, 2, `both problems: ${error.details?.join(' | ')}`)
  t.ok(
    error.details?.some((line) => line.startsWith('PORT')),
    'PORT reported',
  )
  t.ok(
    error.details?.some((line) => line.startsWith('JWT_SECRET is required')),
    'JWT_SECRET reported',
  )
})

t.test('each refusal names its variable, what it takes and the value, except a text value, which may be a secret', async (t) => {
  const problems = (env: Record<string, string>) => (t.throws(() => loadConfig(env)) as ConfigError).details ?? []
  t.same(problems({ PORT: '80.5', LOG_LEVEL: 'loud', DB_POOL_MAX: '0', LOGIN_MAX_FAILURES_PER_EMAIL: '-3' }), [
    'DB_POOL_MAX must be a whole number from 1 to 1000, not "0"',
    'PORT must be a whole number from 0 to 65535, not "80.5"',
    'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not "loud"',
    'LOGIN_MAX_FAILURES_PER_EMAIL must be a whole number of 1 or more, not "-3"',
  ])
  const url = problems({ DATABASE_URL: 'mysql://app:hunter2-secret@db/app', JWT_SECRET: 'x'.repeat(32) })
  t.same(url, ['DATABASE_URL must be a postgres:// or postgresql:// URL'])
  t.equal(loadConfig({ PORT: ' 8080 ' }).http.port, 8080, 'spaces around a number are allowed')
  t.equal(loadConfig({ PORT: '' }).http.port, 8000, 'an empty value is an unset one')
})

t.test('no secret has a default outside the embedded database', async (t) => {
  const error = t.throws(() => loadConfig({ POSTGRES_HOST: 'db.internal', JWT_SECRET: 'y'.repeat(40) })) as ConfigError
  t.match(error.message, /POSTGRES_PASSWORD is required with POSTGRES_HOST/)
  t.notMatch(error.message, /JWT_SECRET/, 'only the missing password')
  const embedded = loadConfig({})
  t.match(embedded.database.url, /^postgres:\/\/postgres:postgres@127\.0\.0\.1:/, 'the embedded cluster keeps its development password')
  const own = loadConfig({ POSTGRES_PASSWORD: 'mine' })
  t.match(own.database.url, /^postgres:\/\/postgres:mine@127\.0\.0\.1:/, 'and takes one that is given')
})

t.test('a process that signs no tokens needs no JWT_SECRET', async (t) => {
  const config = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/app' }, { signsTokens: false })
  t.equal(config.database.mode, 'external')
  t.equal(config.auth.jwtSecret, undefined)
  t.equal(
    loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/app', JWT_SECRET: 'short' }, { signsTokens: false }).auth.jwtSecret,
    undefined,
    'nor checks one it is given',
  )
  t.throws(
    () => loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/app', PORT: 'abc' }, { signsTokens: false }),
    /PORT/,
    'the rest is still validated',
  )
})

t.test('TENANT_RESOLUTION and TENANT_BASE_DOMAIN: the api key alone by default; the host name beside it when asked', async (t) => {
  t.same(loadConfig({}).tenantResolution, { order: ['api-key'], baseDomain: undefined }, 'the api-key header alone by default')
  t.same(loadConfig({ TENANT_RESOLUTION: 'api-key, host', TENANT_BASE_DOMAIN: 'Tenants.Example.COM.' }).tenantResolution, {
    order: ['api-key', 'host'],
    baseDomain: 'tenants.example.com',
  })
  t.equal(loadConfig({ TENANT_RESOLUTION: 'api-key,host', TENANT_BASE_DOMAIN: 'localhost' }).tenantResolution.baseDomain, 'localhost')
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env)
      return []
    } catch (error) {
      return (error as ConfigError).details ?? []
    }
  }
  t.match(problems({ TENANT_RESOLUTION: 'host,api-key' }).join(' | '), /starts with api-key/)
  t.match(problems({ TENANT_RESOLUTION: 'host' }).join(' | '), /starts with api-key/)
  t.match(problems({ TENANT_RESOLUTION: 'api-key,cookie' }).join(' | '), /unknown source "cookie"/)
  t.match(problems({ TENANT_RESOLUTION: 'api-key,host,host' }).join(' | '), /twice/)
  t.match(problems({ TENANT_BASE_DOMAIN: 'example.com' }).join(' | '), /needs TENANT_RESOLUTION=api-key,host/)
  t.match(problems({ TENANT_RESOLUTION: 'api-key,host', TENANT_BASE_DOMAIN: '10.0.0.1' }).join(' | '), /TENANT_BASE_DOMAIN: an IP address/)
  t.match(problems({ TENANT_RESOLUTION: 'api-key,host', TENANT_BASE_DOMAIN: '*.example.com' }).join(' | '), /TENANT_BASE_DOMAIN/)
})
