import path from 'node:path'
import t from 'tap'
import { buildTestApp, makeTenant, registerAndLogin, setupDatabase } from '../helper.js'

// A restore swaps a tenant's schema while the API serves it: every request before, during and
// after the swap answers 2xx, and the requests after it see the restored content.
t.test('a restore under a steady load fails no request', { timeout: 300_000 }, async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const tenant = await makeTenant(ctx.services, 'rs')
  const user = await registerAndLogin(app, tenant)
  const post = (title: string) =>
    app.inject({ method: 'POST', url: '/api/posts/', headers: user.headers, payload: { title, body: 'text' } })
  for (let i = 0; i < 20; i++) t.equal((await post(`kept ${i}`)).statusCode, 201)
  const file = path.join(t.testdir(), 'tenant.gz')
  await ctx.services.bundles.exportTenant(tenant.schemaName, file)
  for (let i = 0; i < 5; i++) t.equal((await post('undone')).statusCode, 201)

  const statuses = new Map<number, number>()
  let restored = false
  let during = 0
  // Each worker reads and writes in turn until the restore has ended, then once more.
  const worker = async (index: number, started: () => void) => {
    for (let round = 0; ; round++) {
      const finished = restored
      const reply = round % 2 === 0 ? await app.inject({ url: '/api/posts/?limit=5', headers: user.headers }) : await post(`load ${index}`)
      statuses.set(reply.statusCode, (statuses.get(reply.statusCode) ?? 0) + 1)
      if (!finished) during++
      if (round === 0) started()
      if (finished) return
    }
  }
  const starts: Promise<void>[] = []
  const workers = Array.from({ length: 6 }, (_, index) => {
    let started!: () => void
    starts.push(new Promise((resolve) => (started = resolve)))
    return worker(index, started)
  })
  await Promise.all(starts)
  // The load stops even when the restore throws: the teardown then closes the app and drops
  // the database, with no request still under way.
  const summary = await ctx.services.bundles.restoreTenant(file, tenant.schemaName).finally(async () => {
    restored = true
    await Promise.allSettled(workers)
  })
  await Promise.all(workers)

  const failed = [...statuses].filter(([status]) => status >= 300)
  t.same(failed, [], `no request failed (${during} answered while the restore ran: ${JSON.stringify([...statuses])})`)
  t.ok(during >= 6, 'requests ran while the restore did')
  const titles = (await ctx.db.sql<{ title: string }[]>`select title from ${ctx.db.sql(tenant.schemaName)}.posts`).map((row) => row.title)
  t.equal(titles.filter((title) => title.startsWith('kept')).length, 20, 'the exported posts are there')
  t.notOk(titles.includes('undone'), 'posts made after the export are not')
  const previous = await ctx.db.sql`select count(*)::int as n from ${ctx.db.sql(summary.previousSchema!)}.posts where title = 'undone'`
  t.same(previous, [{ n: 5 }], 'they are kept in the previous copy')
  const after = await app.inject({ url: '/api/posts/?limit=100', headers: user.headers })
  t.equal(after.statusCode, 200)
  t.notOk(after.body.includes('undone'), 'the API serves the restored content')
})
