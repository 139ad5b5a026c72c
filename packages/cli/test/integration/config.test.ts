import t from 'tap'
import { parseJson, runCli, setupDatabase } from '../helpers.js'

// tenantctl reads core's configuration: every problem at once, and no JWT_SECRET (it signs no tokens).

t.test('every configuration problem at once, exit 2; no JWT_SECRET needed', async (t) => {
  const { db } = await setupDatabase(t)
  const config = await runCli(['list'], { url: db.url, env: { DB_POOL_MAX: '0', PORT: 'abc' } })
  t.equal(config.code, 2, 'invalid configuration is invalid input')
  t.match(config.stderr, /DB_POOL_MAX[\s\S]*PORT|PORT[\s\S]*DB_POOL_MAX/, 'every problem at once')

  const noSecret = await runCli(['list', '--json'], { url: db.url, env: { JWT_SECRET: '' } })
  t.equal(noSecret.code, 0, `tenantctl signs no tokens, so it needs no JWT_SECRET: ${noSecret.stderr}`)
  t.same(
    parseJson<{ name: string }[]>(t, noSecret).map((row) => row.name),
    [],
  )
})
