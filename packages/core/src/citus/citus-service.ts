import type { Sql } from '../db/sql.js'
import { ConflictError, NotFoundError, ValidationError } from '../errors.js'
import { assertValidSchemaName } from '../db/schema-name.js'

/** A Citus node as the coordinator names it. */
export interface CitusNode {
  readonly host: string
  readonly port: number
}

/** How far a live tenant move has come, from Citus' own progress monitor. */
export interface MoveProgress {
  /** Citus' phase of the move ("Setting Up", "Copying Data", "Catching Up", ...). */
  readonly status: string
  readonly copiedBytes: number
  readonly totalBytes: number
}

export interface MoveTenantOptions {
  /** Called once every check has passed, as the move starts: a refusal comes before it. */
  readonly onStart?: (from: CitusNode) => void
  /** Called about four times a second while the move runs. */
  readonly onProgress?: (progress: MoveProgress) => void
}

export interface CitusServiceOptions {
  readonly sql: Sql
}

/** `host:port` of a node, the way operators type it. */
export function formatNode(node: CitusNode): string {
  return `${node.host}:${node.port}`
}

/** Parses `host:port` (an IPv6 host in brackets); {@link ValidationError} otherwise. */
export function parseNode(text: string): CitusNode {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(text.trim())
  const port = Number(match?.[2])
  if (!match || port < 1 || port > 65535) {
    throw new ValidationError(`"${text}" is not a node address: give host:port, for example 10.0.0.7:5432`, 'INVALID_NODE')
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port }
}

const notCitus = () => new ValidationError('not a Citus cluster: the database has no citus extension (see docs/scaling.md)', 'NOT_CITUS')

/**
 * Citus schema-based sharding as tenantbase uses it: each tenant schema is a distributed
 * schema, placed whole on one worker and movable live. Every function is a read of the
 * coordinator's catalog or one Citus call; on plain PostgreSQL the reads answer null and the
 * move refuses with NOT_CITUS.
 */
export function createCitusService({ sql }: CitusServiceOptions) {
  let detected: Promise<string | null> | undefined

  /** The Citus extension's version on this database, or null on plain PostgreSQL. */
  function citusVersion(): Promise<string | null> {
    detected ??= sql<{ version: string }[]>`select extversion as version from pg_extension where extname = 'citus'`.then(
      (rows) => rows[0]?.version ?? null,
      (error: unknown) => {
        detected = undefined
        throw error
      },
    )
    return detected
  }

  /**
   * The node holding each distributed tenant schema (schemas without tables have none yet),
   * or null when this is not a Citus cluster. Schemas that are not distributed are absent.
   */
  async function tenantPlacements(): Promise<Map<string, CitusNode | null> | null> {
    if ((await citusVersion()) === null) return null
    const rows = await sql<{ schemaName: string; host: string | null; port: number | null }[]>`
      select n.nspname as schema_name, min(node.nodename) as host, min(node.nodeport) as port
      from pg_dist_schema ds
      join pg_namespace n on n.oid = ds.schemaid
      join public.tenants t on t.schema_name = n.nspname
      left join pg_dist_partition p on p.colocationid = ds.colocationid
      left join pg_dist_shard s on s.logicalrelid = p.logicalrelid
      left join pg_dist_placement pl on pl.shardid = s.shardid
      left join pg_dist_node node on node.groupid = pl.groupid
      group by n.nspname`
    return new Map(rows.map((row) => [row.schemaName, row.host === null ? null : { host: row.host, port: row.port! }]))
  }

  /** Registered tenant schemas that Citus does not distribute (made before sharding was on), or null. */
  async function undistributedTenantSchemas(): Promise<string[] | null> {
    if ((await citusVersion()) === null) return null
    const rows = await sql<{ schemaName: string }[]>`
      select t.schema_name from public.tenants t
      join pg_namespace n on n.nspname = t.schema_name
      where not exists (select 1 from pg_dist_schema ds where ds.schemaid = n.oid)
      order by t.id`
    return rows.map((row) => row.schemaName)
  }

  /**
   * Moves a tenant's schema, all its tables at once, to another worker while it keeps
   * serving reads and writes (`citus_schema_move` with logical replication). Refuses,
   * before anything starts, a schema that is not distributed, an unknown target node, one
   * that already holds it, and a table without a primary key (logical replication needs one).
   */
  async function moveTenant(
    schemaName: string,
    target: CitusNode,
    options: MoveTenantOptions = {},
  ): Promise<{ from: CitusNode; to: CitusNode }> {
    assertValidSchemaName(schemaName)
    const placements = await tenantPlacements()
    if (placements === null) throw notCitus()
    const [registered] = await sql`select 1 from public.tenants where schema_name = ${schemaName}`
    if (!registered) throw new NotFoundError(`no tenant with schema ${schemaName}`, 'TENANT_NOT_FOUND')
    if (!placements.has(schemaName)) {
      throw new ValidationError(
        `schema ${schemaName} is not distributed: run SELECT citus_schema_distribute('${schemaName}') on the coordinator first`,
        'SCHEMA_NOT_DISTRIBUTED',
      )
    }
    const from = placements.get(schemaName)
    if (!from) throw new ValidationError(`schema ${schemaName} has no tables yet: there is nothing to move`, 'SCHEMA_NOT_DISTRIBUTED')
    const workers = await sql<{ host: string; port: number }[]>`
      select nodename as host, nodeport as port from pg_dist_node
      where isactive and noderole = 'primary' and shouldhaveshards order by nodename, nodeport`
    if (!workers.some((node) => node.host === target.host && node.port === target.port)) {
      throw new ValidationError(
        `${formatNode(target)} is not a Citus worker of this cluster (workers: ${workers.map(formatNode).join(', ') || 'none'})`,
        'INVALID_NODE',
      )
    }
    if (from.host === target.host && from.port === target.port) {
      throw new ConflictError(`schema ${schemaName} is already on ${formatNode(target)}`, 'ALREADY_ON_NODE')
    }
    const withoutKey = await sql<{ table: string }[]>`
      select c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${schemaName} and c.relkind in ('r', 'p')
        and not exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary)
      order by c.relname`
    if (withoutKey.length > 0) {
      const tables = withoutKey.map((row) => row.table).join(', ')
      throw new ValidationError(
        `schema ${schemaName} cannot move live: no primary key on ${tables} (logical replication needs one); add one first`,
        'TABLE_WITHOUT_PRIMARY_KEY',
      )
    }

    options.onStart?.(from)
    let done = false
    const watch = async () => {
      while (!done) {
        await new Promise((resolve) => setTimeout(resolve, 250))
        if (done) break
        const [row] = await sql<{ status: string | null; copied: string | null; total: string | null }[]>`
          select max(status) as status, sum(target_shard_size)::text as copied, sum(source_shard_size)::text as total
          from get_rebalance_progress() p
          where (select c.relnamespace from pg_class c where c.oid = p.table_name) = ${schemaName}::regnamespace`
        if (row?.status && !done)
          options.onProgress?.({ status: row.status, copiedBytes: Number(row.copied), totalBytes: Number(row.total) })
      }
    }
    const watching = options.onProgress ? watch().catch(() => {}) : Promise.resolve()
    try {
      await sql`select citus_schema_move(${schemaName}::regnamespace, ${target.host}::text, ${target.port}::int)`
    } finally {
      done = true
      await watching
    }
    return { from, to: target }
  }

  return { citusVersion, tenantPlacements, undistributedTenantSchemas, moveTenant }
}

export type CitusService = ReturnType<typeof createCitusService>
