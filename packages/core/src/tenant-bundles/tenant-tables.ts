import type { Sql, TransactionSql } from '../db/sql.js'

/** A table of a tenant schema as a bundle copies it. */
export interface TenantTable {
  readonly name: string
  /** The columns a COPY writes, in order: every column but generated ones. */
  readonly columns: readonly string[]
  /** The primary key's columns, which order the rows of an export. */
  readonly primaryKey: readonly string[]
  /** The columns whose values come from a sequence (identity or serial). */
  readonly sequenceColumns: readonly string[]
}

type Db = Sql | TransactionSql

/**
 * The tables of `schema` but its migration ledger, each after the tables its foreign keys
 * point to (so rows load in that order), then by name.
 */
export async function readTenantTables(sql: Db, schema: string): Promise<TenantTable[]> {
  const rows = await sql<
    { name: string; columns: string[]; primaryKey: string[] | null; sequenceColumns: string[]; dependsOn: string[] }[]
  >`
    select c.relname as name,
      array(select a.attname::text from pg_attribute a
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = '' order by a.attnum) as columns,
      (select array_agg(a.attname::text order by k.ord) from pg_constraint p
        cross join unnest(p.conkey) with ordinality k(attnum, ord)
        join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
        where p.conrelid = c.oid and p.contype = 'p') as primary_key,
      array(select a.attname::text from pg_attribute a
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
          and pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) is not null order by a.attnum) as sequence_columns,
      array(select distinct r.relname::text from pg_constraint f join pg_class r on r.oid = f.confrelid
        where f.conrelid = c.oid and f.contype = 'f' and r.relnamespace = c.relnamespace and r.oid <> c.oid) as depends_on
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schema} and c.relkind in ('r', 'p') and not c.relispartition and c.relname <> 'schema_migrations'
    order by c.relname`
  const byName = new Map(rows.map((row) => [row.name, row]))
  const ordered: TenantTable[] = []
  const placed = new Set<string>()
  const visiting = new Set<string>()
  const place = (name: string) => {
    if (placed.has(name) || visiting.has(name)) return
    visiting.add(name)
    const row = byName.get(name)!
    for (const dependency of row.dependsOn) if (byName.has(dependency)) place(dependency)
    visiting.delete(name)
    placed.add(name)
    ordered.push({ name, columns: row.columns, primaryKey: row.primaryKey ?? [], sequenceColumns: row.sequenceColumns })
  }
  for (const row of rows) place(row.name)
  return ordered
}

/**
 * Makes the text of every value the same on any server: COPY's text and the row checksums
 * of an export and of an import then agree whatever each server's defaults are. For the
 * transaction only (`set_config(..., true)`).
 */
export async function useCanonicalText(tx: TransactionSql): Promise<void> {
  await tx`
    select set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true),
      set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '1', true),
      set_config('bytea_output', 'hex', true)`
}

/**
 * A table's row count and checksum: the exact sum of the first 64 bits (a signed integer)
 * of each row's md5(row::text). Computed by the server in one pass, in any order, on export and again after
 * an import has loaded the rows, so it checks the values as stored, not the bytes carried.
 */
export async function tableChecksum(sql: Db, schema: string, table: string): Promise<{ rows: number; checksum: string }> {
  const [row] = await sql<{ rows: number; checksum: string }[]>`
    select count(*)::bigint as rows,
      coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint), 0)::text as checksum
    from ${sql(schema)}.${sql(table)} t`
  return row!
}

/** The last value each sequence of a table handed out (null: never used). */
export async function sequenceValues(sql: Db, schema: string, table: TenantTable): Promise<{ column: string; lastValue: number | null }[]> {
  const values = []
  for (const column of table.sequenceColumns) {
    const [row] = await sql<{ lastValue: number | null }[]>`
      select pg_sequence_last_value(pg_get_serial_sequence(format('%I.%I', ${schema}::text, ${table.name}::text), ${column})::regclass) as last_value`
    values.push({ column, lastValue: row?.lastValue ?? null })
  }
  return values
}
