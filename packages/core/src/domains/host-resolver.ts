import { LRUCache } from 'lru-cache'
import type { Sql } from '../db/sql.js'
import type { TenantRef } from '../db/tenant-scope.js'
import { schemaNameProblem } from '../db/schema-name.js'
import { parseHostName } from './host-name.js'

/** The tenant a request's host name names. */
export interface HostTenant extends TenantRef {
  readonly name: string
  /** The normalised host name it was found by. */
  readonly host: string
  /** Whether a caller found by the host alone (no api key) may register a user. */
  readonly openRegistration: boolean
  /** The 403 message while the tenant is suspended; null while it is active. */
  readonly suspended: string | null
}

export interface HostResolverOptions {
  readonly sql: Sql
  /**
   * The domain whose one-label subdomains name tenants by schema (`acme.example.com` is the
   * tenant of schema `acme` when the base domain is `example.com`), unless a tenant holds
   * that host as a domain. Undefined: only the domains registry names tenants.
   */
  readonly baseDomain?: string
  /** How long an answer (a tenant, or none) is trusted without asking the database. 0 disables the cache. */
  readonly cacheTtlMs?: number
  readonly cacheMax?: number
}

/** A cached answer: the tenant, or null for a host that names none. */
interface CachedHost {
  readonly tenant: HostTenant | null
}

/**
 * The request path's half of tenant domains: a request's host name to its tenant. A bounded
 * in-memory cache with a short TTL in front of one indexed lookup, evicted across processes
 * by NOTIFY as the key cache is (revocation-listener.ts calls the evictions): a domain added
 * or removed, a tenant created (a host that named none may now), suspended, resumed,
 * deleted, or its open registration switched. The store (domain-store.ts) writes domains.
 */
export function createHostResolver(options: HostResolverOptions) {
  const { sql } = options
  const baseDomain = options.baseDomain
  const ttl = options.cacheTtlMs ?? 30_000
  const max = options.cacheMax ?? 10_000
  const cache = ttl > 0 && max > 0 ? new LRUCache<string, CachedHost>({ max, ttl }) : undefined
  // NOTE: as in the key resolver: off while this process does not hear NOTIFY, and a
  // lookup caches its answer only if no eviction happened while it ran.
  let caching = true
  let evictions = 0
  const counts = { hits: 0, misses: 0 }

  /** Forgets one host (added to or removed from a tenant); `*` forgets every host that named no tenant. */
  function evictHost(host: string): void {
    evictions++
    if (!cache) return
    if (host !== '*') {
      cache.delete(host)
      return
    }
    for (const [key, entry] of cache.entries()) if (entry.tenant === null) cache.delete(key)
  }

  /** Forgets every host of a tenant (suspended, resumed, deleted, its registration switched). */
  function evictTenant(tenantId: number): void {
    evictions++
    if (!cache) return
    for (const [key, entry] of cache.entries()) if (entry.tenant?.id === tenantId) cache.delete(key)
  }

  /** Turns the cache off (emptying it) or back on. */
  function setCaching(enabled: boolean): void {
    evictions++
    caching = enabled
    if (!enabled) cache?.clear()
  }

  /** The schema a subdomain of the base domain names, if the host is one. */
  function subdomainSchema(host: string): string | undefined {
    if (baseDomain === undefined || !host.endsWith(`.${baseDomain}`)) return undefined
    const label = host.slice(0, -baseDomain.length - 1)
    return !label.includes('.') && schemaNameProblem(label) === undefined ? label : undefined
  }

  /**
   * The tenant a host name (as a request's `Host` carries it: any case, a port, a trailing
   * dot) names, or undefined when it names none: not a host name at all (an IP address, a
   * single label, too long), or no tenant's domain nor a subdomain of the base domain whose
   * label is a tenant's schema. A registered domain wins over a schema of the same label.
   * Never throws for what a client sends.
   */
  async function resolveHost(rawHost: unknown): Promise<HostTenant | undefined> {
    const parsed = parseHostName(rawHost)
    if ('problem' in parsed) return undefined
    const { host } = parsed
    const cached = caching ? cache?.get(host) : undefined
    if (cached) {
      counts.hits++
      return cached.tenant ?? undefined
    }
    counts.misses++
    const evictionsBefore = evictions
    const schema = subdomainSchema(host)
    type Row = {
      id: number
      name: string
      schemaName: string
      openRegistration: boolean
      suspendedAt: Date | null
      suspensionReason: string | null
      suspensionReasonPublic: boolean
    }
    const [row] =
      schema === undefined
        ? await sql<Row[]>`
            select t.id, t.name, t.schema_name, t.open_registration, t.suspended_at, t.suspension_reason, t.suspension_reason_public
            from public.tenant_domains d join public.tenants t on t.id = d.tenant_id where d.host = ${host}`
        : await sql<Row[]>`
            select * from (
              select t.id, t.name, t.schema_name, t.open_registration, t.suspended_at, t.suspension_reason,
                t.suspension_reason_public, 0 as rank
              from public.tenant_domains d join public.tenants t on t.id = d.tenant_id where d.host = ${host}
              union all
              select t.id, t.name, t.schema_name, t.open_registration, t.suspended_at, t.suspension_reason,
                t.suspension_reason_public, 1 as rank
              from public.tenants t where t.schema_name = ${schema}
            ) found order by rank limit 1`
    const tenant: HostTenant | null = row
      ? {
          id: row.id,
          schemaName: row.schemaName,
          name: row.name,
          host,
          openRegistration: row.openRegistration,
          suspended:
            row.suspendedAt === null
              ? null
              : `this tenant is suspended${row.suspensionReasonPublic && row.suspensionReason ? `: ${row.suspensionReason}` : ''}`,
        }
      : null
    if (caching && evictions === evictionsBefore) cache?.set(host, { tenant })
    return tenant ?? undefined
  }

  return {
    resolveHost,
    evictHost,
    evictTenant,
    setCaching,
    /** Lookups answered from the cache and from the database since start, for metrics. */
    cacheCounts: (): Readonly<typeof counts> => ({ ...counts }),
  }
}

export type HostResolver = ReturnType<typeof createHostResolver>
