/**
 * Key rotation and tenant suspension seen by TWO real API processes (each with its own key
 * cache, warmed before each change), driven by the real tenantctl. What must hold is
 * asserted; how long each process took is printed, with a generous deadline as hang guard.
 */
import t, { type Test } from 'tap'
import { createServices } from '@tenantbase/core'
import { createTestDatabase } from '@tenantbase/core/testing'
import { signUpWithPosts, sleep, spawnCli, startApi, type ApiProcess } from '../stress/helpers.js'

/** The hang guard: far above the one second promised, so only a real failure trips it. */
const DEADLINE_MS = 15_000

async function cli(t: Test, args: string[], url: string): Promise<string> {
  return (await timedCli(t, args, url)).stdout
}

/**
 * tenantctl `args`, with when it started and exited: the change commits (and NOTIFYs)
 * between the two, so a time measured from the exit is a lower bound of the latency, and
 * one from the start an upper bound.
 */
async function timedCli(t: Test, args: string[], url: string): Promise<{ stdout: string; startedAt: number; exitedAt: number }> {
  const startedAt = Date.now()
  const result = await spawnCli(args, url).result
  t.equal(result.code, 0, `tenantctl ${args.join(' ')} ${result.stderr}`)
  return { stdout: result.stdout, startedAt, exitedAt: Date.now() }
}

function describe(times: { ms: number; before: Map<string, number> }[], run: { startedAt: number; exitedAt: number }): string {
  const span = run.exitedAt - run.startedAt
  return times
    .map(
      (x, i) =>
        `process ${i + 1}: ${x.ms} ms after tenantctl exited (${x.ms + span} ms after it started; ${[...x.before].map(([a, n]) => `${n} x ${a}`).join(', ') || 'no other answer'} before)`,
    )
    .join('; ')
}

/** Status and code of GET /api/posts/ with `key` (and the user's token). */
async function answer(api: ApiProcess, key: string, token: string): Promise<string> {
  const response = await fetch(`${api.base}/api/posts/`, { headers: { 'api-key': key, authorization: `Bearer ${token}` } })
  const body = (await response.json()) as { code?: string; message?: string }
  return response.status === 200 ? '200' : `${response.status} ${body.code}`
}

/** Polls `api` until it answers `wanted`; the ms it took from `since`, or the deadline's failure. */
async function timeUntil(
  api: ApiProcess,
  key: string,
  token: string,
  wanted: string,
  since: number,
): Promise<{ ms: number; before: Map<string, number> }> {
  const before = new Map<string, number>()
  for (;;) {
    const got = await answer(api, key, token)
    if (got === wanted) return { ms: Date.now() - since, before }
    before.set(got, (before.get(got) ?? 0) + 1)
    if (Date.now() - since > DEADLINE_MS) throw new Error(`${api.base} still answers ${got} after ${DEADLINE_MS} ms (wanted ${wanted})`)
    await sleep(5)
  }
}

async function setup(t: Test, schema: string) {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  await (await createServices({ sql: db.sql })).migrateAll()
  const [a, b] = await Promise.all([startApi(t, db.url), startApi(t, db.url)])
  const created = JSON.parse(await cli(t, ['create', '--name', `Tenant ${schema}`, '--address', '', '--schema', schema, '--json'], db.url))
  const key = created.apiKey.key as string
  const user = await signUpWithPosts(a!.base, key, { email: `u@${schema}.example.com`, password: 'password-123' }, { count: 1, body: 'b' })
  return { db, apis: [a!, b!], key, prefix: created.apiKey.prefix as string, token: user.token }
}

t.test('rotation: both keys work on both processes during the grace; neither serves the old one past it', async (t) => {
  const { db, apis, key, prefix, token } = await setup(t, 'rotated')
  for (const api of apis) t.equal(await answer(api, key, token), '200', `${api.base} caches the old key before the rotation`)

  const rotated = JSON.parse(await cli(t, ['keys', 'rotate', prefix, '--grace', '12s', '--json'], db.url))
  const newKey = rotated.issued.key as string
  const endsAt = new Date(rotated.old.expiresAt).getTime()
  t.ok(endsAt > Date.now(), `the grace is still running (${endsAt - Date.now()} ms left)`)
  for (const api of apis) {
    t.equal(await answer(api, key, token), '200', `${api.base}: the old key works during the grace`)
    t.equal(await answer(api, newKey, token), '200', `${api.base}: so does the new one`)
  }

  await sleep(Math.max(0, endsAt - Date.now()) + 1)
  for (const api of apis) {
    // The first request sent after the expiry: a cache that served past it would answer 200.
    t.equal(await answer(api, key, token), '401 INVALID_API_KEY', `${api.base}: the old key is refused once its grace has ended`)
    t.equal(await answer(api, newKey, token), '200', `${api.base}: the new key goes on working`)
  }
  t.comment(`grace ended at ${new Date(endsAt).toISOString()}; both processes refused the old key on their first request after it`)

  // --grace 0: a revocation, heard through NOTIFY.
  for (const api of apis) t.equal(await answer(api, newKey, token), '200')
  const revoking = await timedCli(t, ['keys', 'rotate', newKey, '--grace', '0', '--json'], db.url)
  const times = await Promise.all(apis.map((api) => timeUntil(api, newKey, token, '401 INVALID_API_KEY', revoking.exitedAt)))
  t.comment(`--grace 0, the old key refused: ${describe(times, revoking)}`)
  t.pass('both processes refuse a key rotated with --grace 0')
})

t.test('suspension and resumption reach both processes; the reason only when shown; the audit log has each', async (t) => {
  const { db, apis, key, token } = await setup(t, 'suspended')
  for (const api of apis) t.equal(await answer(api, key, token), '200', `${api.base} caches the key before the suspension`)

  const suspending = await timedCli(
    t,
    ['suspend', 'suspended', '--reason', 'invoice overdue', '--show-reason', '--actor', 'ann@ops'],
    db.url,
  )
  const suspended = await Promise.all(apis.map((api) => timeUntil(api, key, token, '403 TENANT_SUSPENDED', suspending.exitedAt)))
  t.comment(`suspend, 403 TENANT_SUSPENDED: ${describe(suspended, suspending)}`)
  const refused = await fetch(`${apis[1]!.base}/api/users/me/`, { headers: { 'api-key': key, authorization: `Bearer ${token}` } })
  t.same(await refused.json(), {
    statusCode: 403,
    code: 'TENANT_SUSPENDED',
    error: 'Forbidden',
    message: 'this tenant is suspended: invoice overdue',
  })

  const again = await spawnCli(['suspend', 'suspended'], db.url).result
  t.equal(again.code, 0, 'suspending again exits 0')
  t.match(again.stdout, /already suspended/)

  const resuming = await timedCli(t, ['resume', 'suspended', '--actor', 'ann@ops'], db.url)
  const resumed = await Promise.all(apis.map((api) => timeUntil(api, key, token, '200', resuming.exitedAt)))
  t.comment(`resume, 200 again: ${describe(resumed, resuming)}`)
  t.equal(await answer(apis[0]!, key, token), '200', 'the same key and token work again: nothing was lost')

  const events = JSON.parse(await cli(t, ['audit', '--schema', 'suspended', '--json'], db.url)) as { action: string; actor: string }[]
  t.same(
    events.map((e) => e.action),
    ['tenant.resume', 'tenant.suspend', 'tenant.create'],
    'one row per change; the repeated suspend wrote none',
  )
  t.same(
    events.slice(0, 2).map((e) => e.actor),
    ['ann@ops', 'ann@ops'],
  )
})
