import type postgres from 'postgres'

/** The postgres.js pool every core service receives. Column names come back camelCased. */
export type Sql = postgres.Sql<{ bigint: number }>
export type TransactionSql = postgres.TransactionSql<{ bigint: number }>
/** A schema name escaped by the driver as an identifier, for `${schema}.posts`. */
export type SchemaIdentifier = postgres.Helper<string, []>
