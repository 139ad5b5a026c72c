import t from 'tap'
import { createTenantByCli, parseJson, randomSchema, runCli, setupDatabase, type KeyJson } from '../helpers.js'

t.test('keys rotate: a new key printed once, the old one "expires in 23h (rotated to ...)"; scope kept', async (t) => {
  const { db } = await setupDatabase(t)
  const url = db.url
  const schema = randomSchema('rot')
  const { apiKey } = await createTenantByCli(t, url, schema)

  const rotated = await runCli(['keys', 'rotate', apiKey.prefix, '--grace', '24h'], { url, env: { NO_COLOR: '1' } })
  t.equal(rotated.code, 0, rotated.stderr)
  const newKey = /(tb_[0-9a-f]{12})_[A-Za-z0-9_-]{43}/.exec(rotated.stdout)
  t.ok(newKey, 'the new key is printed')
  t.match(rotated.stdout, new RegExp(`Rotated api key ${apiKey.prefix} \\("default"\\) to a new write key "default"`))
  t.match(rotated.stdout, new RegExp(`${apiKey.prefix} keeps working until \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\dZ`))
  t.match(rotated.stdout, /Store this key now/)

  const list = await runCli(['keys', 'list', schema], { url, env: { NO_COLOR: '1' } })
  t.equal(list.code, 0)
  t.match(list.stdout, /PREFIX\s+NAME\s+SCOPE\s+STATUS/)
  t.match(
    list.stdout,
    new RegExp(`${apiKey.prefix}\\s+default\\s+write\\s+expires in 23h \\(rotated to ${newKey![1]}\\)`),
    'the old key, in its grace',
  )
  t.match(list.stdout, new RegExp(`${newKey![1]}\\s+default\\s+write\\s+active`))
  const shown = await runCli(['show', schema], { url, env: { NO_COLOR: '1' } })
  t.match(shown.stdout, new RegExp(`expires in 23h \\(rotated to ${newKey![1]}\\)`), 'show says it too')
  t.match(shown.stdout, /state\s+active/)

  // A read key with an expiry: rotation keeps both (JSON), and a long grace extends nothing.
  const reader = parseJson<{ apiKey: KeyJson & { key: string } }>(
    t,
    await runCli(['keys', 'create', schema, '--name', 'dash', '--scope', 'read', '--expires-in', '15m', '--json'], { url }),
  ).apiKey
  t.equal(reader.scope, 'read')
  const again = await runCli(['keys', 'rotate', reader.key, '--grace', '30d', '--name', 'dash-2', '--json'], { url })
  t.equal(again.code, 0, again.stderr)
  const { old, issued } = parseJson<{ old: KeyJson; issued: KeyJson & { key: string } }>(t, again)
  t.equal(old.expiresAt, reader.expiresAt, 'a 30d grace leaves a 15m expiry as it was')
  t.equal(issued.expiresAt, reader.expiresAt, 'the new key expires with the old one')
  t.equal(issued.scope, 'read', 'rotation keeps the scope')
  t.equal(issued.name, 'dash-2')
  t.equal(old.rotatedTo, issued.prefix)

  const keys = parseJson<KeyJson[]>(t, await runCli(['keys', 'list', schema, '--json'], { url }))
  t.same(
    keys.map((k) => [k.name, k.scope, k.status, k.rotatedTo !== null]),
    [
      ['default', 'write', 'active', true],
      ['default', 'write', 'active', false],
      ['dash', 'read', 'active', true],
      ['dash-2', 'read', 'active', false],
    ],
  )

  const now = await runCli(['keys', 'rotate', issued.prefix, '--grace', '0', '--json'], { url })
  t.equal(now.code, 0, now.stderr)
  t.ok(parseJson<{ old: KeyJson }>(t, now).old.revokedAt, '--grace 0 revokes at once')
})
