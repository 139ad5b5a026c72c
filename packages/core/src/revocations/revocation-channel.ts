import type { Sql, TransactionSql } from '../db/sql.js'

/**
 * The one PostgreSQL channel carrying revocations to every process: keys, tenants, ended
 * logins, and each listener's own probes. A message is `<kind>:<payload>`;
 * revocation-listener.ts dispatches it by kind.
 */
export const REVOCATION_CHANNEL = 'tenantbase_revocations'

/**
 * What a message on {@link REVOCATION_CHANNEL} announces:
 * - `key`: one api key, by prefix;
 * - `tenant`: every cached key and host of a tenant, by id (the tenant was deleted, suspended or
 *   resumed, or its open registration switched);
 * - `domain`: one host name, added to or removed from a tenant; `*`: every host cached as naming
 *   no tenant (a tenant was created, and its schema may now be a subdomain);
 * - `session`: a login ended, `<family id>:<ms since the epoch until its access tokens expire>`;
 * - `probe`: a listener checking that it hears the channel (ignored by everyone else).
 */
export type RevocationKind = 'key' | 'tenant' | 'domain' | 'session' | 'probe'

/** Sends one message; inside a transaction it is delivered at commit, and not at all on rollback. */
export function notifyRevocation(sql: Sql | TransactionSql, kind: RevocationKind, payload: string): Promise<unknown> {
  return sql`select pg_notify(${REVOCATION_CHANNEL}, ${`${kind}:${payload}`})`
}
