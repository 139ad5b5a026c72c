import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import type { Sql } from '@tenantbase/core'

/** A client that writes posts: its tenant's schema and the headers of one of its users. */
export interface Writer {
  readonly schemaName: string
  readonly headers: Record<string, string>
}

/** What a run of retried writes saw. */
export interface RetriedWritesReport {
  readonly writes: number
  /** Requests sent beyond the first of each write. */
  readonly retries: number
  /** Answers 5xx (and transport failures, as `NETWORK`), by code. */
  readonly failuresByCode: Readonly<Record<string, number>>
  /** Writes replayed although every earlier answer said DATABASE_UNAVAILABLE (not applied): a wrong code. */
  readonly appliedThoughNotApplied: readonly string[]
  /** 503 answers without a Retry-After header. */
  readonly withoutRetryAfter: number
  /** 2xx answers marked Idempotent-Replayed. */
  readonly replays: number
  /** The slowest single request, in ms. */
  readonly slowestMs: number
  /** Writes that never got a 2xx within the attempts allowed, and answers no retry can fix. */
  readonly gaveUp: readonly string[]
  /** The title of each write, for counting its rows. */
  readonly titles: readonly string[]
}

/** A hang guard per request: far beyond any answer, so only a hang trips it. */
const REQUEST_HANG_GUARD_MS = 30_000
/** Attempts per write before the run counts it as lost. */
const MAX_ATTEMPTS = 200
/** Statuses a client retries: the database failed (503), or the first request with the key still runs (409). */
const RETRIED = new Set([409, 502, 503, 504])

/**
 * `writes` POSTs to `${baseUrl}/api/posts/`, `concurrency` at a time, spread over `writers`,
 * each with its own Idempotency-Key, each retried with that key until it gets a 2xx, as a
 * careful client does (after a short pause instead of the whole `Retry-After`, to keep the run short).
 */
export async function runRetriedWrites(
  baseUrl: string,
  writers: readonly Writer[],
  { writes, concurrency, label }: { writes: number; concurrency: number; label: string },
): Promise<RetriedWritesReport> {
  const failuresByCode: Record<string, number> = {}
  const gaveUp: string[] = []
  const titles: string[] = []
  const appliedThoughNotApplied: string[] = []
  let retries = 0
  let replays = 0
  let withoutRetryAfter = 0
  let slowestMs = 0
  let next = 0

  async function writeOnce(index: number): Promise<void> {
    const writer = writers[index % writers.length]!
    const title = `${label}-${index}`
    titles.push(title)
    const headers = { ...writer.headers, 'content-type': 'application/json', 'idempotency-key': randomUUID() }
    const body = JSON.stringify({ title, body: `write ${index}` })
    /** Whether an earlier answer left the write's fate open (the only way a later try can be a replay). */
    let mayHaveApplied = false
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (attempt > 1) retries++
      const started = performance.now()
      let status: number
      let code: string
      try {
        const response = await fetch(`${baseUrl}/api/posts/`, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(REQUEST_HANG_GUARD_MS),
        })
        const text = await response.text()
        status = response.status
        code = status >= 400 ? ((JSON.parse(text) as { code?: string }).code ?? String(status)) : ''
        if (response.headers.get('idempotent-replayed') === 'true') {
          replays++
          if (!mayHaveApplied) appliedThoughNotApplied.push(title)
        }
        if (status === 503 && response.headers.get('retry-after') === null) withoutRetryAfter++
      } catch (error) {
        if ((error as Error).name === 'TimeoutError') {
          gaveUp.push(`${title}: no answer within ${REQUEST_HANG_GUARD_MS} ms`)
          return
        }
        status = 0
        code = 'NETWORK'
      }
      slowestMs = Math.max(slowestMs, performance.now() - started)
      if (code === 'WRITE_OUTCOME_UNKNOWN' || code === 'NETWORK') mayHaveApplied = true
      if (status >= 200 && status < 300) return
      if (status >= 500 || status === 0) failuresByCode[code] = (failuresByCode[code] ?? 0) + 1
      if (status !== 0 && !RETRIED.has(status)) {
        gaveUp.push(`${title}: ${status} ${code}`)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20))
    }
    gaveUp.push(`${title}: no 2xx in ${MAX_ATTEMPTS} attempts`)
  }

  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < writes) await writeOnce(next++)
    }),
  )
  return { writes, retries, failuresByCode, appliedThoughNotApplied, withoutRetryAfter, replays, slowestMs, gaveUp, titles }
}

/**
 * Asserts exactly one row per write (none lost, none twice), read on `sql` (a direct
 * connection), and prints the run's figures in the test output.
 */
export async function assertExactlyOnce(t: Test, sql: Sql, writers: readonly Writer[], report: RetriedWritesReport, cuts: number) {
  const schemas = [...new Set(writers.map((writer) => writer.schemaName))]
  const counts = new Map<string, number>()
  for (const schema of schemas) {
    const rows = await sql<{ title: string; count: number }[]>`
      select title, count(*)::int as count from ${sql(schema)}.posts where title = any(${report.titles as string[]}) group by title`
    for (const row of rows) counts.set(row.title, (counts.get(row.title) ?? 0) + row.count)
  }
  const duplicates = report.titles.filter((title) => (counts.get(title) ?? 0) > 1)
  const lost = report.titles.filter((title) => !counts.has(title))
  const failures = Object.entries(report.failuresByCode)
    .map(([code, count]) => `${code} ${count}`)
    .join(', ')
  t.comment(
    `${report.writes} writes, ${report.retries} retries, ${report.replays} replayed answers, ` +
      `5xx by code: ${failures || 'none'}, slowest request ${Math.round(report.slowestMs)} ms, ${cuts} connections cut`,
  )
  t.same(report.gaveUp, [], 'every write got a 2xx, none hung')
  t.equal(report.withoutRetryAfter, 0, 'every 503 says when to retry (Retry-After)')
  t.same(report.appliedThoughNotApplied, [], 'no write answered DATABASE_UNAVAILABLE (not applied) had been applied')
  t.equal(report.titles.length, report.writes, 'every write was sent')
  t.same(duplicates, [], '0 duplicates')
  t.same(lost, [], '0 lost')
}
