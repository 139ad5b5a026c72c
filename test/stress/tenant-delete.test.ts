/**
 * A tenant deleted by another process: `tenantctl delete --yes` while a
 * real API process serves that tenant from its key cache under a steady load. After
 * tenantctl exits, the tenant's key and token are refused (401) on the very next request;
 * requests in flight around the deletion are answered 200 or 401, never a 5xx. Another
 * tenant is served throughout.
 */
import t from 'tap'
import { createServices } from '@tenantbase/core'
import { createTestDatabase } from '@tenantbase/core/testing'
import { signUpWithPosts, sleep, spawnCli, startApi } from './helpers.js'

const LOOPS = 8

t.test('tenantctl delete: the API refuses the tenant at once, with no 5xx on the way', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const services = await createServices({ sql: db.sql })
  await services.migrateAll()
  const doomed = await services.tenants.createTenant({ name: 'Doomed', schemaName: 'doomed_tenant' })
  const survivor = await services.tenants.createTenant({ name: 'Survivor', schemaName: 'survivor_tenant' })
  const api = await startApi(t, db.url)

  const login = async (key: string) =>
    (
      await signUpWithPosts(
        api.base,
        key,
        { email: `u-${key.slice(3, 15)}@example.com`, password: 'password-123' },
        { count: 1, body: 'b' },
      )
    ).headers
  const doomedHeaders = await login(doomed.apiKey.key)
  const survivorHeaders = await login(survivor.apiKey.key)
  const get = (headers: Record<string, string>) =>
    fetch(`${api.base}/api/posts/`, { headers }).then(async (r) => ({
      status: r.status,
      code: ((await r.json()) as { code?: string }).code,
    }))
  t.equal((await get(doomedHeaders)).status, 200, 'the key works (and is cached) before')

  // A steady load on both tenants while tenantctl deletes one.
  const seen = { doomed: new Map<string, number>(), survivor: new Map<string, number>() }
  let running = true
  const loop = async (which: 'doomed' | 'survivor', headers: Record<string, string>) => {
    while (running) {
      const { status, code } = await get(headers).catch((error: Error) => ({ status: 0, code: error.message }))
      const label = `${status} ${code ?? ''}`.trim()
      seen[which].set(label, (seen[which].get(label) ?? 0) + 1)
    }
  }
  const loops = [...Array.from({ length: LOOPS }, () => loop('doomed', doomedHeaders)), loop('survivor', survivorHeaders)]
  await sleep(300)
  const cli = await spawnCli(['delete', 'doomed_tenant', '--yes', '--force'], db.url).result
  // The very next request, with no wait.
  const next = await get(doomedHeaders)
  await sleep(300)
  running = false
  await Promise.all(loops)

  t.equal(cli.code, 0, `tenantctl delete exits 0 ${cli.stderr}`)
  t.same(next, { status: 401, code: 'INVALID_API_KEY' }, 'the next request after tenantctl exits is 401 INVALID_API_KEY')
  t.comment(`doomed tenant's requests around the deletion: ${JSON.stringify(Object.fromEntries(seen.doomed))}`)
  t.comment(`survivor's requests meanwhile: ${JSON.stringify(Object.fromEntries(seen.survivor))}`)
  t.same(
    [...seen.doomed.keys()].filter((label) => label !== '200' && label !== '401 INVALID_API_KEY'),
    [],
    "the doomed tenant's requests are 200 before and 401 after: no 5xx, no dropped connection",
  )
  t.ok((seen.doomed.get('401 INVALID_API_KEY') ?? 0) > 0 && (seen.doomed.get('200') ?? 0) > 0, 'both sides of the deletion were seen')
  t.same([...seen.survivor.keys()], ['200'], 'the other tenant is served throughout')
  const foreign = await get({ ...survivorHeaders, authorization: doomedHeaders.authorization! })
  t.same(foreign, { status: 401, code: 'TOKEN_TENANT_MISMATCH' }, "the deleted tenant's token with a living tenant's key is 401")
})
