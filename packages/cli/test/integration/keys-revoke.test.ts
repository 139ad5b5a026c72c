import t from 'tap'
import { parseJson, randomSchema, runCli, setupDatabase } from '../helpers.js'

// `keys revoke` as an operator uses it: a pasted key, a key revoked twice.

t.test('keys revoke takes the whole key, never prints it, and says when a key was already revoked', async (t) => {
  const { db, services } = await setupDatabase(t)
  const schema = randomSchema('rev')
  const { tenant, apiKey } = await services.tenants.createTenant({ name: `Revoke ${schema}`, schemaName: schema })
  const secret = apiKey.key.slice(apiKey.prefix.length + 1)

  const wrong = await runCli(['keys', 'revoke', `${apiKey.prefix}_${'A'.repeat(43)}`], { url: db.url })
  t.equal(wrong.code, 1, 'a whole key with another secret is not that key')
  t.match(wrong.stderr, /no api key with prefix/)
  t.equal((await services.apiKeyResolver.resolve(apiKey.key)).id, tenant.id, 'and revokes nothing')

  const pasted = await runCli(['keys', 'revoke', apiKey.key], { url: db.url })
  t.equal(pasted.code, 0, pasted.stderr)
  t.match(pasted.stdout, new RegExp(`Revoked api key ${apiKey.prefix}`))
  t.notMatch(pasted.stdout + pasted.stderr, secret, 'the key itself is never echoed')
  await t.rejects(services.apiKeyResolver.resolve(apiKey.key), { code: 'INVALID_API_KEY' })

  const again = await runCli(['keys', 'revoke', apiKey.prefix], { url: db.url })
  t.equal(again.code, 0, 'revoking twice is not a failure')
  t.match(again.stdout, new RegExp(`^API key ${apiKey.prefix} \\(".*"\\) was already revoked: nothing changed\\.$`, 'm'))
  t.notMatch(again.stdout, /✔ Revoked/)
  const againJson = parseJson<{ alreadyRevoked: boolean; revokedAt: string; prefix: string }>(
    t,
    await runCli(['keys', 'revoke', apiKey.key, '--json'], { url: db.url }),
  )
  t.equal(againJson.alreadyRevoked, true)
  t.equal(againJson.prefix, apiKey.prefix)
  t.notMatch(JSON.stringify(againJson), secret, 'nor under --json')

  const other = await services.apiKeys.issueApiKey(tenant, { name: 'other' })
  const first = parseJson<{ alreadyRevoked: boolean }>(t, await runCli(['keys', 'revoke', other.prefix, '--json'], { url: db.url }))
  t.equal(first.alreadyRevoked, false)
})
