import { hostname } from 'node:os'
import closeWithGrace from 'close-with-grace'
import {
  ConfigError,
  createServices,
  formatState,
  loadConfig,
  loadDeployment,
  loadOrCreateJwtSecret,
  openDatabase,
  type Database,
  type Deployment,
} from '@tenantbase/core'
import { buildApp } from './app.js'
import { trackConnections } from './connection-drain.js'
import { loggerOptions } from './logger.js'
import { createApiMetrics } from './metrics.js'
import { buildMetricsApp } from './metrics-app.js'

/** How long a shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000

function fail(message: string): never {
  process.stderr.write(`tenantbase api: ${message}\n`)
  process.exit(1)
}

async function main(): Promise<void> {
  let config
  let deployment: Deployment
  try {
    config = loadConfig(process.env)
    deployment = await loadDeployment()
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message)
    throw error
  }

  let db: Database
  try {
    // A name of its own per process: the metrics count this process's connections by it.
    db = await openDatabase(config.database, { applicationName: `tenantbase-api-${hostname()}-${process.pid}`.slice(0, 63) })
  } catch (error) {
    fail((error as Error).message)
  }
  const services = await createServices({ sql: db.sql, tenantConnections: db.tenantConnections, config, migrations: deployment.migrations })
  const { state, latest, pending } = await services.sharedSchemaState()
  if (pending.length > 0) {
    await db.close()
    fail(
      `the database is not migrated (shared schema at ${formatState(state)}, its files reach ${formatState(latest)}): run \`pnpm tenantctl migrate\` first`,
    )
  }
  const undeclared = await services.undeclaredModules()
  if (undeclared.length > 0) {
    await db.close()
    fail(
      `the database has migrations of module ${undeclared.join(', ')}, which ${deployment.configFile ?? 'this deployment (no tenantbase.config file)'} does not declare: ` +
        'declare it again, or set TENANTBASE_CONFIG to the config that does (docs/extending.md, "Removing a module")',
    )
  }

  const metrics = config.metrics.port === undefined ? undefined : createApiMetrics({ services, perTenant: config.metrics.perTenant })
  const app = await buildApp({
    services,
    config,
    jwtSecret: await loadOrCreateJwtSecret(config),
    logger: loggerOptions({ level: config.logLevel, pretty: process.stdout.isTTY }),
    modules: deployment.modules,
    ...(metrics && { metrics }),
  })
  const adopted = db.embedded?.adopted
  if (adopted) {
    app.log.warn(
      { pid: adopted.pid, previousOwnerPid: adopted.previousOwnerPid },
      `the embedded PostgreSQL (pid ${adopted.pid}) was left running by a process that ended without stopping it` +
        `${adopted.previousOwnerPid ? ` (pid ${adopted.previousOwnerPid})` : ''}: this server adopted it and stops it when it stops`,
    )
  }
  const metricsApp = metrics && (await buildMetricsApp(metrics))
  const connections = trackConnections(app.server)
  // Revocations by any process (tenantctl, another API instance) reach this one's caches;
  // the listener checks that it hears them and says so when it does not (fail closed).
  let revocations
  try {
    revocations = await services.listenForRevocations({
      listenSql: db.listenSql,
      onStateChange: ({ state, problem }) => {
        if (state === 'deaf')
          app.log.error({ revocations: state }, `${problem}; until then /readyz answers 503 and api keys are not cached`)
        else if (state === 'hearing') app.log.info({ revocations: state }, 'revocations are heard')
      },
    })
  } catch (error) {
    await db.close()
    const listenAt = new URL(config.database.listenUrl)
    fail(
      `cannot LISTEN for revocations on ${listenAt.hostname}:${listenAt.port || 5432} (DATABASE_LISTEN_URL, else DATABASE_URL): ${(error as Error).message}`,
    )
  }

  // A signal, an uncaught exception or an unhandled rejection closes the server gracefully
  // (exit 1 for an error, or once the grace period is over); a second signal exits at once.
  let closing = false
  const graceful = closeWithGrace(
    {
      delay: SHUTDOWN_GRACE_MS,
      logger: app.log,
      // See the SIGINT listener below.
      skip: ['SIGINT'],
      onTimeout: () => app.log.error(`shutdown took longer than ${SHUTDOWN_GRACE_MS / 1000} s, exiting`),
    },
    async ({ signal, err, manual }) => {
      closing = true
      const reason = manual ? 'SIGINT' : signal
      if (err) app.log.error({ err }, 'shutting down after an uncaught error: finishing in-flight requests')
      else app.log.info({ signal: reason }, 'shutting down: finishing in-flight requests')
      // A keep-alive connection whose request was in flight goes idle after its response
      // (which carries `Connection: close`, app.ts) and would hold the close for its
      // keep-alive timeout, so idle connections are swept until the server has closed;
      // Node's own sweep at close is replaced by ours, which spares fresh connections.
      app.server.closeIdleConnections = () => {}
      const sweep = setInterval(connections.closeIdleConnections, 100)
      await app.close().finally(() => clearInterval(sweep))
      await metricsApp?.close()
      await revocations.stop().catch(() => {})
      await db.close()
      app.log.info({ signal: reason }, 'stopped')
    },
  )
  // NOTE: SIGINT is handled here, not by close-with-grace, which exits 1 on a second signal:
  // under `pnpm start` a Ctrl-C arrives twice, from the terminal and forwarded by pnpm, and
  // must stop the process once, cleanly (exit 0). Every later SIGINT is ignored.
  process.on('SIGINT', () => {
    if (!closing) graceful.close()
  })

  try {
    await app.listen({ host: config.http.host, port: config.http.port })
  } catch (error) {
    await db.close()
    fail(`cannot listen on ${config.http.host}:${config.http.port}: ${(error as Error).message}`)
  }
  if (metricsApp) {
    try {
      await metricsApp.listen({ host: config.http.host, port: config.metrics.port! })
    } catch (error) {
      await db.close()
      fail(`cannot serve metrics on ${config.http.host}:${config.metrics.port}: ${(error as Error).message}`)
    }
    app.log.info(`metrics on http://${config.http.host}:${config.metrics.port}/metrics`)
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.http.port
  const base = `http://${config.http.host}:${port}`
  // The first-run hint only while it applies.
  const firstRun = (await services.tenants.countTenants()) === 0
  app.log.info(
    `tenantbase API on ${base}: Swagger UI at ${base}/swagger/.` +
      (firstRun ? ' Create a tenant and its api key with `pnpm tenantctl create`, then send the key in the `api-key` header.' : ''),
  )
}

await main()
