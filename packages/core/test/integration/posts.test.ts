import t from 'tap'
import { ForbiddenError, NotFoundError, ValidationError } from '../../src/index.js'
import { makeTenant, setupServices } from '../helpers.js'

t.test('create, read, update (full and partial) and delete', async (t) => {
  const { services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  const author = await services.users.registerUser(tenant, { email: 'a@example.com', password: 'password1' })
  const post = await services.posts.createPost(tenant, author.id, { title: ' Hello ', body: 'World' })
  t.match(post, { title: 'Hello', body: 'World', authorId: author.id })
  t.same(await services.posts.getPost(tenant, post.id), post)
  const replaced = await services.posts.replacePost(tenant, author.id, post.id, { title: 'New', body: 'Body' })
  t.match(replaced, { title: 'New', body: 'Body' })
  t.ok(replaced.updatedAt >= post.updatedAt)
  const patched = await services.posts.patchPost(tenant, author.id, post.id, { body: 'Only body' })
  t.match(patched, { title: 'New', body: 'Only body' })
  await t.rejects(
    services.posts.replacePost(tenant, author.id, post.id, { body: 'no title' } as never /* a JavaScript caller's input */),
    ValidationError,
    'full update needs both',
  )
  await services.posts.deletePost(tenant, author.id, post.id)
  await t.rejects(services.posts.getPost(tenant, post.id), NotFoundError)
  await t.rejects(services.posts.deletePost(tenant, author.id, post.id), NotFoundError)
})

t.test('only the author may change a post', async (t) => {
  const { services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  const author = await services.users.registerUser(tenant, { email: 'a@example.com', password: 'password1' })
  const other = await services.users.registerUser(tenant, { email: 'b@example.com', password: 'password1' })
  const post = await services.posts.createPost(tenant, author.id, { title: 'Mine', body: '' })
  await t.rejects(services.posts.patchPost(tenant, other.id, post.id, { title: 'Yours' }), ForbiddenError)
  await t.rejects(services.posts.deletePost(tenant, other.id, post.id), { code: 'NOT_POST_AUTHOR' })
  t.equal((await services.posts.getPost(tenant, post.id)).title, 'Mine', 'unchanged')
})

t.test('a post of another tenant is not found, for every operation', async (t) => {
  const { services } = await setupServices(t)
  const a = (await makeTenant(services, 'a')).tenant
  const b = (await makeTenant(services, 'b')).tenant
  const userA = await services.users.registerUser(a, { email: 'a@example.com', password: 'password1' })
  const userB = await services.users.registerUser(b, { email: 'b@example.com', password: 'password1' })
  const posts = []
  for (let i = 0; i < 3; i++) posts.push(await services.posts.createPost(a, userA.id, { title: `A${i}`, body: 'secret' }))
  for (const post of posts) {
    await t.rejects(services.posts.getPost(b, post.id), NotFoundError)
    await t.rejects(services.posts.patchPost(b, userB.id, post.id, { title: 'x' }), NotFoundError)
    await t.rejects(services.posts.deletePost(b, userB.id, post.id), NotFoundError)
  }
  t.same((await services.posts.listPosts(b)).results, [])
  t.equal((await services.posts.listPosts(a)).results.length, 3, 'tenant A untouched')
})

t.test('lists newest first with a keyset cursor and an author filter', async (t) => {
  const { services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  const ann = await services.users.registerUser(tenant, { email: 'ann@example.com', password: 'password1' })
  const bob = await services.users.registerUser(tenant, { email: 'bob@example.com', password: 'password1' })
  for (let i = 0; i < 25; i++) await services.posts.createPost(tenant, i % 5 === 0 ? bob.id : ann.id, { title: `P${i}`, body: '' })
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page = await services.posts.listPosts(tenant, { limit: 10, cursor })
    seen.push(...page.results.map((post) => post.title))
    cursor = page.next
  } while (cursor)
  t.same(
    seen,
    Array.from({ length: 25 }, (_, i) => `P${24 - i}`),
  )
  const bobs = await services.posts.listPosts(tenant, { authorId: bob.id, limit: 100 })
  t.same(
    bobs.results.map((post) => post.title),
    ['P20', 'P15', 'P10', 'P5', 'P0'],
  )
  t.equal(bobs.next, null)
  t.equal((await services.posts.listPosts(tenant)).results.length, 20, 'default limit')
  for (const limit of [0, 101, 1.5]) await t.rejects(services.posts.listPosts(tenant, { limit }), { code: 'INVALID_LIMIT' })
  for (const cursor of ['nope', 'cDA', Buffer.from('p1 or 1=1').toString('base64url')]) {
    await t.rejects(services.posts.listPosts(tenant, { cursor }), { code: 'INVALID_CURSOR' })
  }
})

t.test('titles and bodies are bounded', async (t) => {
  const { services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  const user = await services.users.registerUser(tenant, { email: 'a@example.com', password: 'password1' })
  const bad = [
    { title: '', body: '' },
    { title: '   ', body: '' },
    { title: 'x'.repeat(201), body: '' },
    { title: 'ok', body: 'x'.repeat(10_001) },
  ]
  for (const input of bad) await t.rejects(services.posts.createPost(tenant, user.id, input), ValidationError)
  t.ok(await services.posts.createPost(tenant, user.id, { title: '🙂'.repeat(200), body: 'x'.repeat(10_000) }), 'limits count characters')
  t.equal((await services.posts.listPosts(tenant)).results.length, 1, 'nothing written by rejected input')
})
