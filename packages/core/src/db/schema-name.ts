import { ValidationError } from '../errors.js'

const RESERVED = new Set(['public', 'information_schema'])
const SHAPE = /^[a-z][a-z0-9_]*$/
/** PostgreSQL truncates identifiers at NAMEDATALEN - 1 = 63 bytes. */
export const MAX_SCHEMA_NAME_BYTES = 63

/** Why `name` cannot be a tenant schema, or undefined when it can. */
export function schemaNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'schema name is required'
  if (Buffer.byteLength(name) > MAX_SCHEMA_NAME_BYTES) return `schema name is longer than ${MAX_SCHEMA_NAME_BYTES} bytes`
  if (!SHAPE.test(name)) {
    return 'schema name must start with a lowercase letter and contain only a-z, 0-9 and _'
  }
  if (RESERVED.has(name) || name.startsWith('pg_')) return `schema name "${name}" is reserved by PostgreSQL`
  return undefined
}

/** Throws a {@link ValidationError} (code INVALID_SCHEMA_NAME) unless `name` is a valid tenant schema name. */
export function assertValidSchemaName(name: unknown): asserts name is string {
  const problem = schemaNameProblem(name)
  if (problem !== undefined) throw new ValidationError(problem, 'INVALID_SCHEMA_NAME')
}

/** A valid schema name derived from a tenant's display name ("Acme Inc." -> "acme_inc"). */
export function suggestSchemaName(displayName: string): string {
  let name = displayName
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
  if (!/^[a-z]/.test(name)) name = `t_${name}`
  if (name.startsWith('pg_')) name = `t_${name}`
  if (RESERVED.has(name)) name = `${name}_tenant`
  return name.slice(0, MAX_SCHEMA_NAME_BYTES).replace(/_+$/, '')
}
