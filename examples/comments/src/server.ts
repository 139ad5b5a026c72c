import { createServices, loadConfig, loadOrCreateJwtSecret, openDatabase } from '@tenantbase/core'
import { buildApp } from '@tenantbase/api'
import { commentRoutes, createCommentService, loadMigrations } from './index.js'

// The service's own entry point: tenantbase's API plus comments. It migrates on start, which
// suits one process; with many, run the migration once before them, as `pnpm start` does.
// packages/api/src/server.ts also shuts down gracefully on SIGTERM and SIGINT: copy that part.
const config = loadConfig(process.env)
const db = await openDatabase(config.database)
const services = await createServices({ sql: db.sql, tenantConnections: db.tenantConnections, config, migrations: await loadMigrations() })
await services.migrateAll()
const comments = createCommentService(services)
const app = await buildApp({
  services,
  config,
  jwtSecret: await loadOrCreateJwtSecret(config),
  tenantRoutes: [commentRoutes(comments)],
})
await services.listenForRevocations({ listenSql: db.listenSql })
await app.listen({ host: config.http.host, port: config.http.port })
