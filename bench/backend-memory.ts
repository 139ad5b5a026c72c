/**
 * The private memory (RssAnon) of a database server's backends, read from /proc: where a
 * connection's prepared statements, plans and catalog caches live. The benches give each
 * pool they measure an application_name and sum its backends.
 */
import { readFile } from 'node:fs/promises'
import type postgres from 'postgres'

/** MiB of private memory of the backends whose application_name is `applicationName` (0 for a server on another machine). */
export async function backendMemoryMiB(sql: postgres.Sql<any>, applicationName: string): Promise<number> {
  const backends = await sql<{ pid: number }[]>`select pid from pg_stat_activity where application_name = ${applicationName}`
  let kib = 0
  for (const { pid } of backends) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
    kib += Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0)
  }
  return kib / 1024
}
