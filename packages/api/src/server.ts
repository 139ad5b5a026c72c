import {
  ConfigError,
  createServices,
  loadConfig,
  loadOrCreateJwtSecret,
  openDatabase,
  sharedSchemaState,
  type Database,
} from '@tenantbase/core'
import { buildApp } from './app.js'
import { trackConnections } from './connection-drain.js'
import { loggerOptions } from './logger.js'

/** How long a shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000

function fail(message: string): never {
  process.stderr.write(`tenantbase api: ${message}\n`)
  process.exit(1)
}

async function main(): Promise<void> {
  let config
  try {
    config = loadConfig(process.env)
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message)
    throw error
  }

  let db: Database
  try {
    db = await openDatabase(config.database)
  } catch (error) {
    fail((error as Error).message)
  }
  const services = await createServices({ sql: db.sql, config })
  const { version: current, latest } = await sharedSchemaState(db.sql, services.migrations.shared)
  if (current < latest) {
    await db.close()
    fail(`the database is not migrated (shared schema at version ${current} of ${latest}): run \`pnpm tenantctl migrate\` first`)
  }

  const app = await buildApp({
    services,
    config,
    jwtSecret: await loadOrCreateJwtSecret(config),
    logger: loggerOptions({ level: config.logLevel, pretty: process.stdout.isTTY }),
  })
  const connections = trackConnections(app.server)
  // Revocations by any process (tenantctl, another API instance) evict this cache.
  const revocations = await services.apiKeys.listenForRevocations()

  let closing = false
  const shutdown = async (signal: string) => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    const deadline = setTimeout(() => {
      app.log.error(`shutdown took longer than ${SHUTDOWN_GRACE_MS / 1000} s, exiting`)
      process.exit(1)
    }, SHUTDOWN_GRACE_MS)
    deadline.unref()
    try {
      // A keep-alive connection whose request was in flight goes idle after its response
      // (which carries `Connection: close`, app.ts) and would hold the close for its
      // keep-alive timeout, so idle connections are swept until the server has closed;
      // Node's own sweep at close is replaced by ours, which spares fresh connections.
      app.server.closeIdleConnections = () => {}
      const sweep = setInterval(connections.closeIdleConnections, 100)
      await app.close().finally(() => clearInterval(sweep))
      await revocations.unlisten().catch(() => {})
      await db.close()
      process.exit(0)
    } catch (error) {
      app.log.error({ err: error }, 'shutdown failed')
      process.exit(1)
    }
  }
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
  process.once('SIGINT', () => void shutdown('SIGINT'))

  try {
    await app.listen({ host: config.http.host, port: config.http.port })
  } catch (error) {
    await db.close()
    fail(`cannot listen on ${config.http.host}:${config.http.port}: ${(error as Error).message}`)
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.http.port
  const base = `http://${config.http.host}:${port}`
  app.log.info(
    `tenantbase API on ${base}: Swagger UI at ${base}/swagger/. ` +
      'Create a tenant and its api key with `pnpm tenantctl create`, then send the key in the `api-key` header.',
  )
}

await main()
