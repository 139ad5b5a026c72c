import t from 'tap'
import { ConflictError, ValidationError } from '../../src/index.js'
import { makeTenant, setupServices } from '../helpers.js'

const ANSWER = { status: 201, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' }

t.test("runOnce: the work's tenant queries join its transaction, and its answer is stored with them", async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  const author = await services.users.registerUser(tenant, { email: 'a@example.com', password: 'password1' })
  const request = { scope: `user:${author.id}`, key: 'k-1', fingerprint: 'f-1' }
  const titles = async () => (await db.sql`select title from ${db.sql(tenant.schemaName)}.posts order by id`).map((row) => row.title)

  const failed = services.idempotency.runOnce(tenant, request, async () => {
    await services.posts.createPost(tenant, author.id, { title: 'rolled back', body: 'x' })
    throw new Error('the work failed after writing')
  })
  await t.rejects(failed, /the work failed after writing/)
  t.same(await titles(), [], "the work's write was rolled back with it")

  const notStored = await services.idempotency.runOnce(tenant, request, async () => {
    await services.posts.createPost(tenant, author.id, { title: 'not stored', body: 'x' })
    return null
  })
  t.same(notStored, { replayed: false, answer: null })
  t.same(await titles(), [], 'an answer not to be stored rolls the writes back too')

  let runs = 0
  const work = async () => {
    runs++
    await services.posts.createPost(tenant, author.id, { title: 'once', body: 'x' })
    return ANSWER
  }
  t.same(await services.idempotency.runOnce(tenant, request, work), { replayed: false, answer: ANSWER })
  t.same(await services.idempotency.runOnce(tenant, request, work), { replayed: true, answer: ANSWER })
  t.equal(runs, 1, 'the repeat ran nothing')
  t.same(await titles(), ['once'])
  await t.rejects(services.idempotency.runOnce(tenant, { ...request, fingerprint: 'f-2' }, work), ConflictError)
  await t.rejects(services.idempotency.runOnce(tenant, { ...request, key: '' }, work), ValidationError)
})

t.test('inside the work, another tenant whose home is the same connection neither waits for it nor joins it', async (t) => {
  const { db, services } = await setupServices(t)
  // Three home connections (createTestDatabase): tenants n and n + 3 share one.
  const tenants: Awaited<ReturnType<typeof makeTenant>>['tenant'][] = []
  for (let i = 0; i < 4; i++) tenants.push((await makeTenant(services)).tenant)
  const [first, neighbour] = [tenants[0]!, tenants.find((other, i) => i > 0 && other.id % 3 === tenants[0]!.id % 3)!]
  t.ok(neighbour, 'a neighbour on the same home connection')
  const author = await services.users.registerUser(neighbour, { email: 'n@example.com', password: 'password1' })
  const failed = services.idempotency.runOnce(first, { scope: 'key:x', key: 'k', fingerprint: 'f' }, async () => {
    await services.posts.createPost(neighbour, author.id, { title: 'neighbour', body: 'x' })
    throw new Error('roll back')
  })
  await t.rejects(failed, /roll back/, 'no deadlock: it ends')
  const [row] = await db.sql`select count(*)::int as count from ${db.sql(neighbour.schemaName)}.posts`
  t.equal(row!.count, 1, "the neighbour's write was its own, not rolled back with the work")
})
