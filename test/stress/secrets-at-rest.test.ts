/**
 * Secrets at rest: after a full flow (a tenant, api keys, users with
 * passwords, logins and refreshes issuing refresh tokens, all over HTTP to a real API
 * process), neither a dump of every table of every schema nor, stronger, the raw files of
 * the cluster's data directory after a CHECKPOINT (heap, indexes, WAL) hold any api key,
 * password, refresh token or access token in plain text. A canary written in plain text
 * must be found by both scans: the proof that they can see a leak.
 */
import { randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { createPool, createServices } from '@tenantbase/core'
import { JWT_SECRET, startApi, startOwnCluster } from './helpers.js'

interface Secret {
  readonly what: string
  readonly value: string
}

/** Where each secret occurs in `haystack`, as text or as the hex a dump shows for bytea. */
function leaks(secrets: readonly Secret[], haystack: Buffer): string[] {
  return secrets
    .filter(({ value }) => haystack.includes(Buffer.from(value)) || haystack.includes(Buffer.from(Buffer.from(value).toString('hex'))))
    .map(({ what }) => what)
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name))
}

t.test('no api key, password or token is stored in plain text', async (t) => {
  const cluster = await startOwnCluster(t)
  const sql = createPool(cluster.url, { max: 2 })
  t.teardown(() => sql.end({ timeout: 1 }))
  const services = await createServices({ sql })
  await services.migrateAll()
  const { tenant, apiKey } = await services.tenants.createTenant({ name: 'Secrets', schemaName: 'secrets' })
  const second = await services.apiKeys.issueApiKey(tenant, { name: 'second' })
  const secrets: Secret[] = [
    { what: 'first api key', value: apiKey.key },
    // The key's public prefix is stored on purpose; its secret part must not be.
    { what: 'first api key, secret part', value: apiKey.key.slice(apiKey.prefix.length + 1) },
    { what: 'second api key', value: second.key },
    { what: 'second api key, secret part', value: second.key.slice(second.prefix.length + 1) },
    { what: 'JWT secret', value: JWT_SECRET },
  ]

  const api = await startApi(t, cluster.url, { LOG_LEVEL: 'debug' })
  const post = async (route: string, body: unknown, key = apiKey.key, token?: string) => {
    const response = await fetch(`${api.base}${route}`, {
      method: 'POST',
      headers: { 'api-key': key, 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    })
    return { status: response.status, body: (await response.json().catch(() => undefined)) as Record<string, string> }
  }
  for (const [i, key] of [apiKey.key, second.key].entries()) {
    const email = `user${i}@example.com`
    const password = `pw-${randomBytes(16).toString('base64url')}`
    secrets.push({ what: `password of user ${i}`, value: password })
    t.equal((await post('/api/users/register/', { email, password }, key)).status, 201, `user ${i} registers`)
    const login = await post('/api/users/login/', { email, password }, key)
    t.equal(login.status, 200, `user ${i} logs in`)
    secrets.push(
      { what: `refresh token ${i}a`, value: login.body.refresh_token! },
      { what: `access token ${i}a`, value: login.body.access_token! },
    )
    const refreshed = await post('/api/users/token/refresh/', { refresh_token: login.body.refresh_token }, key)
    t.equal(refreshed.status, 200, `user ${i} refreshes`)
    secrets.push(
      { what: `refresh token ${i}b`, value: refreshed.body.refresh_token! },
      { what: `access token ${i}b`, value: refreshed.body.access_token! },
    )
    t.equal((await post('/api/posts/', { title: `post by ${i}`, body: 'hello' }, key, refreshed.body.access_token)).status, 201)
  }
  t.ok(
    secrets.every((s) => typeof s.value === 'string' && s.value.length >= 20),
    `${secrets.length} secrets collected`,
  )

  // The positive control: a value stored in plain text, which both scans must find.
  const canary: Secret = { what: 'canary', value: `canary-${randomBytes(16).toString('hex')}` }
  t.equal(
    (
      await post(
        '/api/posts/',
        { title: 'canary', body: canary.value },
        apiKey.key,
        secrets.find((s) => s.what === 'access token 0b')!.value,
      )
    ).status,
    201,
  )

  // 1. A dump: every row of every table of every schema, as COPY (pg_dump's format) writes it.
  const tables = await sql<{ schema: string; name: string }[]>`
    select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%'
    order by 1, 2`
  const chunks: Buffer[] = []
  for (const { schema, name } of tables) {
    for await (const chunk of await sql`copy ${sql(schema)}.${sql(name)} to stdout`.readable()) chunks.push(Buffer.from(chunk as Buffer))
  }
  const dump = Buffer.concat(chunks)
  t.ok(
    tables.some((row) => row.schema === 'secrets' && row.name === 'refresh_tokens'),
    `the dump covers ${tables.length} tables, tenant schemas included`,
  )
  t.same(leaks([canary], dump), ['canary'], 'the dump shows a value stored in plain text')
  t.same(leaks(secrets, dump), [], 'the dump holds no secret in plain text')

  // 2. The raw files: after a CHECKPOINT every page is on disk; the WAL holds every write.
  await sql`checkpoint`
  const files = await filesUnder(cluster.dataDir)
  const found = new Map<string, string[]>()
  let bytes = 0
  for (const file of files) {
    const content = await readFile(file).catch(() => undefined)
    if (!content) continue
    bytes += content.length
    for (const what of leaks([...secrets, canary], content))
      found.set(what, [...(found.get(what) ?? []), path.relative(cluster.dataDir, file)])
  }
  t.comment(`scanned ${files.length} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB`)
  t.ok(
    found.get('canary')?.some((file) => file.startsWith('base/')),
    `the data files show the plain canary (${found.get('canary')?.join(', ')})`,
  )
  t.ok(
    found.get('canary')?.some((file) => file.startsWith('pg_wal/')),
    'and so does the WAL',
  )
  found.delete('canary')
  t.same(Object.fromEntries(found), {}, 'no secret in any file of the data directory')

  // And the API's own log, at debug level, names none of them either.
  t.same(leaks(secrets, Buffer.from(api.stdout() + api.stderr())), [], 'nor in the API log')
  t.ok(api.stdout().length > 0, 'the API did log')
})
