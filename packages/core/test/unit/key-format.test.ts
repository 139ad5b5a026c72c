import t from 'tap'
import { digestApiKey, generateApiKey, isApiKeyPrefix, parseApiKey } from '../../src/api-keys/key-format.js'

t.test('a key is a public prefix plus 256 random bits, url-safe', async (t) => {
  const { key, prefix, digest } = generateApiKey()
  t.match(key, /^tb_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/)
  t.ok(key.startsWith(`${prefix}_`))
  t.equal(encodeURIComponent(key), key, 'url-safe')
  const secret = key.slice(prefix.length + 1)
  t.equal(Buffer.from(secret, 'base64url').length, 32, '32 random bytes')
  t.same(digest, digestApiKey(key))
  t.equal(digest.length, 32, 'sha-256')
})

t.test('keys are unique', async (t) => {
  const keys = new Set(Array.from({ length: 1000 }, () => generateApiKey().key))
  t.equal(keys.size, 1000)
})

t.test('parses only well-formed keys', async (t) => {
  const { key, prefix } = generateApiKey()
  t.equal(parseApiKey(key), prefix)
  for (const bad of [
    '',
    'tb_',
    `${key}x`,
    key.slice(0, -1),
    key.toUpperCase(),
    ` ${key}`,
    `${prefix}_${'!'.repeat(43)}`,
    42,
    null,
    undefined,
  ]) {
    t.equal(parseApiKey(bad), undefined, String(bad))
  }
  t.ok(isApiKeyPrefix(prefix))
  t.notOk(isApiKeyPrefix(key))
  t.notOk(isApiKeyPrefix('tb_xyz'))
})
