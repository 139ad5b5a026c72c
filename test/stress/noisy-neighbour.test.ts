/**
 * Noisy neighbour: one tenant hammers a real API process (autocannon in a
 * process of its own, 32 connections, as fast as it can) while another tenant sends a
 * steady 100 requests/s (open loop, one every 10 ms). The quiet tenant's p99 latency is measured alone and beside the
 * neighbour, over real sockets on 127.0.0.1, and reported with their ratio: once without a
 * per-key limit (the default) and once with API_KEY_RATE_LIMIT_MAX=100 per 100 ms.
 * Timing is reported, never asserted (the machine is shared); the assertions are
 * functional: every quiet request sent is answered 200, the noisy one 200 or 429 (and 429s
 * appear only with the limit), and neither sees an error or a hang (a request unanswered
 * after HANG_GUARD_S).
 *
 * NOISY_RATE_LIMIT and NOISY_RATE_WINDOW_MS change the limited configuration.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import path from 'node:path'
import t from 'tap'
import { createServices } from '@tenantbase/core'
import { createTestDatabase } from '@tenantbase/core/testing'
import { root, sleep, signUpWithPosts, startApi } from './helpers.js'

const QUIET_RATE = 100 // requests per second, the quiet tenant's steady load
const QUIET_SECONDS = 6
const NOISY_CONNECTIONS = 32
/** Only against a hang: a request unanswered this long counts as an error, for either tenant. */
const HANG_GUARD_S = 60
const LIMITED = {
  API_KEY_RATE_LIMIT_MAX: process.env.NOISY_RATE_LIMIT ?? '100',
  API_KEY_RATE_LIMIT_WINDOW_MS: process.env.NOISY_RATE_WINDOW_MS ?? '100',
}

interface Run {
  p50: number
  p99: number
  max: number
  /** Requests answered. */
  requests: number
  /** Requests sent, by the quiet tenant's open loop. */
  sent?: number
  statuses: Record<number, number>
  errors: number
  timeouts: number
}

/**
 * The noisy tenant's load from a process of its own (autocannon's CLI), so that its client
 * work does not delay the quiet tenant's client, which measures in this process.
 */
async function loadInAnotherProcess(url: string, headers: Record<string, string>, connections: number, seconds: number): Promise<Run> {
  const bin = path.join(path.dirname(createRequire(path.join(root, 'packages/api/package.json')).resolve('autocannon')), 'autocannon.js')
  const args = [
    '-c',
    String(connections),
    '-d',
    String(seconds),
    '-t',
    String(HANG_GUARD_S),
    '--json',
    ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}=${v}`]),
    url,
  ]
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (chunk) => (out += String(chunk)))
  await once(child, 'exit')
  const result = JSON.parse(out)
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats as Record<string, { count: number }>).map(([status, { count }]) => [status, count]),
  )
  return {
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    requests: result.requests.total,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
  }
}

/**
 * The quiet tenant: one request every 1000/rate ms, open loop (sent on time whether or not
 * the previous one is answered), each timed on its own. (autocannon's rate option sends
 * each second's quota in a burst at the start of the second.)
 */
async function steady(url: string, headers: Record<string, string>, rate: number, seconds: number): Promise<Run> {
  const latencies: number[] = []
  const statuses: Record<number, number> = {}
  let errors = 0
  const pending: Promise<void>[] = []
  const end = performance.now() + seconds * 1000
  for (let next = performance.now(); next < end; next += 1000 / rate) {
    const wait = next - performance.now()
    if (wait > 0) await sleep(wait)
    const start = performance.now()
    pending.push(
      fetch(url, { headers, signal: AbortSignal.timeout(HANG_GUARD_S * 1000) }).then(
        async (response) => {
          await response.arrayBuffer()
          latencies.push(performance.now() - start)
          statuses[response.status] = (statuses[response.status] ?? 0) + 1
        },
        () => void errors++,
      ),
    )
  }
  await Promise.all(pending)
  latencies.sort((a, b) => a - b)
  const at = (q: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN) * 100) / 100
  return { p50: at(0.5), p99: at(0.99), max: at(1), requests: latencies.length, sent: pending.length, statuses, errors, timeouts: 0 }
}

t.test("one tenant hammering the API: the other tenant's p99, quiet and under load, without and with a per-key limit", async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const services = await createServices({ sql: db.sql })
  await services.migrateAll()
  const quietTenant = await services.tenants.createTenant({ name: 'Quiet', schemaName: 'quiet_tenant' })
  const noisyTenant = await services.tenants.createTenant({ name: 'Noisy', schemaName: 'noisy_tenant' })

  // Users, tokens and posts through a first API process (tokens outlive it: same secret).
  const setup = await startApi(t, db.url)
  const headersOf = async (key: string) =>
    (
      await signUpWithPosts(
        setup.base,
        key,
        { email: `u-${key.slice(3, 15)}@example.com`, password: 'password-123' },
        { count: 20, body: 'x'.repeat(200) },
      )
    ).headers
  const quiet = await headersOf(quietTenant.apiKey.key)
  const noisy = await headersOf(noisyTenant.apiKey.key)
  setup.child.kill('SIGTERM')
  await setup.exited

  for (const [label, env] of [
    ['no per-key limit (default)', { API_KEY_RATE_LIMIT_MAX: '0' }],
    [`per-key limit ${LIMITED.API_KEY_RATE_LIMIT_MAX} per ${LIMITED.API_KEY_RATE_LIMIT_WINDOW_MS} ms`, LIMITED],
  ] as const) {
    const api = await startApi(t, db.url, env)
    const url = `${api.base}/api/posts/`
    // Warm-up (JIT, connections, caches), not measured.
    await steady(url, quiet, QUIET_RATE, 2)
    const alone = await steady(url, quiet, QUIET_RATE, QUIET_SECONDS)
    const hammer = loadInAnotherProcess(url, noisy, NOISY_CONNECTIONS, QUIET_SECONDS + 2)
    await sleep(1500) // the neighbour is at full speed before the measurement starts
    const loaded = await steady(url, quiet, QUIET_RATE, QUIET_SECONDS)
    const neighbour = await hammer
    api.child.kill('SIGTERM')
    await api.exited

    const ratio = loaded.p99 / alone.p99
    t.comment(`${label}:`)
    t.comment(
      `  quiet tenant alone:            p50 ${alone.p50} ms, p99 ${alone.p99} ms, max ${alone.max} ms (${alone.requests} requests at ${QUIET_RATE}/s)`,
    )
    t.comment(
      `  quiet tenant beside the noisy: p50 ${loaded.p50} ms, p99 ${loaded.p99} ms, max ${loaded.max} ms (${loaded.requests} requests)`,
    )
    t.comment(
      `  noisy tenant: ${neighbour.requests} requests in ${QUIET_SECONDS + 2} s over ${NOISY_CONNECTIONS} connections, statuses ${JSON.stringify(neighbour.statuses)}`,
    )
    t.comment(`  p99 ratio (beside / alone): ${ratio.toFixed(2)} (the bar is at most 2; reported, not asserted)`)

    t.test(label, async (t) => {
      for (const [which, run] of [
        ['alone', alone],
        ['beside the noisy tenant', loaded],
      ] as const) {
        t.same(Object.keys(run.statuses), ['200'], `quiet tenant ${which}: every request answered 200`)
        t.equal(run.errors + run.timeouts, 0, `quiet tenant ${which}: no error, no timeout`)
        t.equal(run.requests, run.sent, `quiet tenant ${which}: each of the ${run.sent} requests sent was answered`)
      }
      const allowed = env.API_KEY_RATE_LIMIT_MAX === '0' ? ['200'] : ['200', '429']
      t.ok(
        Object.keys(neighbour.statuses).every((status) => allowed.includes(status)),
        `the noisy tenant gets ${allowed.join(' or ')}, nothing else`,
      )
      if (env.API_KEY_RATE_LIMIT_MAX !== '0') t.ok((neighbour.statuses[429] ?? 0) > 0, 'the limit refused some of the noisy requests')
      t.equal(neighbour.errors + neighbour.timeouts, 0, 'the noisy tenant sees no error and no timeout')
      t.ok(
        neighbour.requests > 0,
        `the noisy tenant was answered (${neighbour.requests} requests, against the quiet tenant's ${loaded.requests}: reported, not asserted)`,
      )
    })
  }
})
