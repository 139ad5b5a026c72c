import diagnosticsChannel from 'node:diagnostics_channel'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Services } from '@tenantbase/core'

/** Which limit refused a request (rate-limit.ts). */
export type RateLimitKind = 'login_attempts' | 'login_failures' | 'api_key'

/** Prometheus metrics of one API process (prom-client), served by metrics-app.ts on METRICS_PORT. */
export interface ApiMetrics {
  readonly registry: Registry
  /** onResponse: one request done. */
  observeRequest(request: FastifyRequest, reply: FastifyReply): void
  countRefusal(kind: RateLimitKind): void
  /** Stops counting the driver's pool events (metrics-app.ts calls it when it closes). */
  close(): void
}

export interface ApiMetricsOptions {
  readonly services: Services
  /** Tenants given series of their own, at most (METRICS_PER_TENANT; 0: none). */
  readonly perTenant: number
}

/** Seconds: from a cached key's hello-world to a slow page under load. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** The label of a request that matched no route: its URL would make a series per URL. */
const UNMATCHED = 'unmatched'
/** The tenant label of every tenant beyond METRICS_PER_TENANT. */
const OTHER_TENANTS = 'other'

export function createApiMetrics({ services, perTenant }: ApiMetricsOptions): ApiMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })

  const requests = new Histogram({
    name: 'tenantbase_http_request_duration_seconds',
    help: 'HTTP requests by method, route (its template, not its URL) and status, with their latency',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  })
  // NOTE: one child per method, route and status, found by one Map lookup: prom-client's
  // observe(labels) hashes the label object on every call.
  const children = new Map<string, ReturnType<typeof requests.labels>>()

  const refusals = new Counter({
    name: 'tenantbase_rate_limit_refusals_total',
    help: 'Requests refused with 429 by a rate limit',
    labelNames: ['limit'] as const,
    registers: [registry],
  })

  new Gauge({
    name: 'tenantbase_db_pool_connections',
    help: "This process's database connections as PostgreSQL sees them (in_use: active or inside a transaction; waiting: active, waiting for a lock)",
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const stats = await services.poolConnectionStats().catch(() => undefined)
      this.reset()
      if (!stats) return
      this.set({ state: 'in_use' }, stats.active + stats.idleInTransaction)
      this.set({ state: 'idle' }, stats.idle)
      this.set({ state: 'waiting' }, stats.waitingOnLock)
    },
  })

  new Gauge({
    name: 'tenantbase_db_pool_waiting',
    help: 'Queries, transactions and reservations waiting for a database connection, as postgres.js counts them, by pool (shared; tenants: the home connections added up)',
    labelNames: ['pool'] as const,
    registers: [registry],
    collect() {
      const { shared, tenants } = services.driverPoolStats()
      this.set({ pool: 'shared' }, shared.waiting)
      if (tenants) this.set({ pool: 'tenants' }, tenants.waiting)
    },
  })

  new Gauge({
    name: 'tenantbase_db_driver_connections',
    help: "This process's database connections as postgres.js counts them, by pool and state (opening; idle: no query in flight; leased: held by a transaction; busy: the rest)",
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
    collect() {
      const { shared, tenants } = services.driverPoolStats()
      for (const [pool, stats] of [['shared', shared] as const, ['tenants', tenants] as const]) {
        if (!stats) continue
        const busy = stats.connections - stats.opening - stats.idle - stats.leased
        this.set({ pool, state: 'opening' }, stats.opening)
        this.set({ pool, state: 'idle' }, stats.idle)
        this.set({ pool, state: 'leased' }, stats.leased)
        this.set({ pool, state: 'busy' }, Math.max(busy, 0))
      }
    },
  })

  // NOTE: the gauges above are what a scrape sees; connections opened and closed between two
  // scrapes (a lost server, max_lifetime replacing them) only show as these counts. postgres.js
  // publishes them on one channel for every pool of the process: in the API, all of them are its own.
  const connectionEvents = new Counter({
    name: 'tenantbase_db_connection_events_total',
    help: 'Database connections opened and closed by postgres.js in this process (every pool, the LISTEN one included)',
    labelNames: ['event'] as const,
    registers: [registry],
  })
  connectionEvents.inc({ event: 'open' }, 0)
  connectionEvents.inc({ event: 'close' }, 0)
  const onPoolEvent = (message: unknown) => {
    const event = (message as { event?: unknown }).event
    if (event === 'open' || event === 'close') connectionEvents.inc({ event })
  }
  diagnosticsChannel.subscribe('postgres:pool', onPoolEvent)

  /** A cache's lookups since start, by whether the cache (hit) or the database (miss) answered. */
  const cacheLookups = (name: string, help: string, counts: () => { readonly hits: number; readonly misses: number }) =>
    new Counter({
      name,
      help,
      labelNames: ['result'] as const,
      registers: [registry],
      collect() {
        const { hits, misses } = counts()
        this.reset()
        this.inc({ result: 'hit' }, hits)
        this.inc({ result: 'miss' }, misses)
      },
    })
  cacheLookups(
    'tenantbase_api_key_cache_lookups_total',
    'API key lookups answered from the in-memory cache (hit) or the database (miss)',
    services.apiKeyResolver.cacheCounts,
  )
  cacheLookups(
    'tenantbase_host_cache_lookups_total',
    'Tenant lookups by host name answered from the in-memory cache (hit) or the database (miss)',
    services.hostResolver.cacheCounts,
  )

  new Counter({
    name: 'tenantbase_revocations_heard_total',
    help: 'Messages heard on the revocation channel, by kind (key, tenant, session; probe: the probes of every process)',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      const heard = services.revocationsHeard()
      this.reset()
      if (heard) for (const [kind, count] of Object.entries(heard)) this.inc({ kind }, count)
    },
  })

  new Gauge({
    name: 'tenantbase_revocations_hearing',
    help: '1 while this process hears its own NOTIFY on the revocation channel, 0 while not (see /readyz)',
    registers: [registry],
    collect() {
      this.set(services.revocationStatus()?.state === 'hearing' ? 1 : 0)
    },
  })

  const tenantRequests =
    perTenant > 0
      ? new Counter({
          name: 'tenantbase_tenant_requests_total',
          help: `Requests under /api/ by tenant (schema name; the first ${perTenant} tenants seen, the rest as "${OTHER_TENANTS}") and status class`,
          labelNames: ['tenant', 'status_class'] as const,
          registers: [registry],
        })
      : undefined
  // The tenants given series of their own: the first `perTenant` seen.
  const trackedTenants = new Set<string>()
  const tenantChildren = new Map<string, { inc(): void }>()

  function countTenantRequest(schemaName: string, statusCode: number): void {
    if (!trackedTenants.has(schemaName) && trackedTenants.size < perTenant) trackedTenants.add(schemaName)
    const tenant = trackedTenants.has(schemaName) ? schemaName : OTHER_TENANTS
    const statusClass = `${Math.floor(statusCode / 100)}xx`
    // At most (perTenant + 1) x 5 children, as many as the series.
    const key = `${statusClass} ${tenant}`
    let child = tenantChildren.get(key)
    if (child === undefined) {
      child = tenantRequests!.labels(tenant, statusClass)
      tenantChildren.set(key, child)
    }
    child.inc()
  }

  return {
    registry,
    observeRequest(request, reply) {
      const route = request.routeOptions.url ?? UNMATCHED
      const key = `${request.method} ${reply.statusCode} ${route}`
      let child = children.get(key)
      if (child === undefined) {
        child = requests.labels(request.method, route, String(reply.statusCode))
        children.set(key, child)
      }
      child.observe(reply.elapsedTime / 1000)
      if (tenantRequests && request.tenant) countTenantRequest(request.tenant.schemaName, reply.statusCode)
    },
    countRefusal(kind) {
      refusals.inc({ limit: kind })
    },
    close() {
      diagnosticsChannel.unsubscribe('postgres:pool', onPoolEvent)
    },
  }
}
