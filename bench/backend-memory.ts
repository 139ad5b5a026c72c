/**
 * The private memory (RssAnon) of a database server's backends, read from /proc: where a
 * connection's prepared statements, plans and catalog caches live. The benches give each
 * pool they measure an application_name and sum its backends. Also CPU time from /proc, of a
 * process and of such backends.
 */
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type postgres from 'postgres'

/** MiB of private memory of the backends whose application_name is `applicationName` (0 for a server on another machine). */
export async function backendMemoryMiB(sql: postgres.Sql<any>, applicationName: string): Promise<number> {
  let kib = 0
  for (const pid of await backendPids(sql, applicationName)) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
    kib += Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0)
  }
  return kib / 1024
}

/** The server pids of the backends whose application_name is `applicationName`. */
export async function backendPids(sql: postgres.Sql<any>, applicationName: string): Promise<number[]> {
  const backends = await sql<{ pid: number }[]>`select pid from pg_stat_activity where application_name = ${applicationName}`
  return backends.map((b) => b.pid)
}

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100

/** A process's user + system CPU time in us, from /proc (NaN where there is none). */
export function cpuTimeUs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * (1e6 / CLOCK_TICKS_PER_SECOND)
  } catch {
    return NaN
  }
}
