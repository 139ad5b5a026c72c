import { spawn } from 'node:child_process'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync, gzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import type { Sql } from '@tenantbase/core'
import { createTestDatabase, type TestDatabase } from '@tenantbase/core/testing'
import { BIN, childEnv, parseJson, randomSchema, runCli, snapshot } from '../helpers.js'

const COMMENTS = fileURLToPath(new URL('../../../../examples/comments/dist/index.js', import.meta.url))

/**
 * A deployment of core, the comments example and a module `kinds` whose table holds a value
 * of every awkward kind; with `slow`, also a module whose one migration sleeps for a minute.
 */
async function writeDeployment(dir: string, options: { kinds?: boolean; slow?: boolean } = {}): Promise<string> {
  await mkdir(dir, { recursive: true })
  const modules: string[] = [`comments`]
  if (options.kinds ?? true) {
    await mkdir(path.join(dir, 'kinds', 'tenant'), { recursive: true })
    await writeFile(
      path.join(dir, 'kinds', 'tenant', '0001_kinds.sql'),
      `create table kinds (
  id bigint generated always as identity primary key,
  note text,
  doc jsonb,
  blob bytea,
  amount numeric(20, 6),
  ratio double precision,
  at timestamptz,
  day date,
  span interval,
  tags text[],
  ok boolean,
  doubled bigint generated always as (id * 2) stored
);\n`,
    )
    modules.push(`{ name: 'kinds', migrations: ${JSON.stringify(path.join(dir, 'kinds'))} }`)
  }
  if (options.slow) {
    await mkdir(path.join(dir, 'slow', 'tenant'), { recursive: true })
    await writeFile(path.join(dir, 'slow', 'tenant', '0001_slow.sql'), 'create table slow as select 1 as id from pg_sleep(60);\n')
    modules.push(`{ name: 'slow', migrations: ${JSON.stringify(path.join(dir, 'slow'))} }`)
  }
  const file = path.join(dir, `tenantbase.config.${Object.keys(options).join('-') || 'default'}.mjs`)
  await writeFile(file, `import comments from ${JSON.stringify(COMMENTS)}\nexport default { modules: [${modules.join(', ')}] }\n`)
  return file
}

async function cli(t: Test, db: TestDatabase, config: string, args: string[], expect = 0) {
  const result = await runCli(args, { url: db.url, env: { TENANTBASE_CONFIG: config, NO_COLOR: '1' }, guardMs: 120_000 })
  t.equal(result.code, expect, `tenantctl ${args.join(' ')} exits ${expect}\n${result.stderr}`)
  return result
}

/** Rows of every kind, through the tables of core, comments and kinds. */
async function fillTenant(sql: Sql, schema: string): Promise<void> {
  const s = sql(schema)
  await sql`insert into ${s}.users (email, name, password_hash) values ('ann@example.com', null, 'h1'), ('bob@example.com', ${'Bob\ttab\nline\\slash ünï 😀'}, 'h2')`
  await sql`insert into ${s}.posts (author_id, title, body) values (1, 'short', 'b'), (2, 'large', ${'x'.repeat(300_000) + '\\.\n'})`
  await sql`delete from ${s}.posts where title = 'short'`
  await sql`insert into ${s}.posts (author_id, title, body) values (1, 'after a gap', ''), (1, 'gone', '')`
  await sql`delete from ${s}.posts where title = 'gone'`
  await sql`insert into ${s}.comments (post_id, author_id, body) values (2, 1, 'nice'), (3, 2, '')`
  await sql`insert into ${s}.refresh_tokens (user_id, family_id, token_hash, expires_at)
    values (1, gen_random_uuid(), ${Buffer.from([0, 1, 2, 255, 10, 9, 92])}, now() + interval '1 day')`
  await sql`insert into ${s}.kinds (note, doc, blob, amount, ratio, at, day, span, tags, ok) values
    (${'\\N is not null'}, ${sql.json({ a: [1, 'two', null], 'b"': { c: true } })}, ${Buffer.alloc(70_000, 7)}, 12345678901234.123456,
      0.1, '2001-02-03 04:05:06.789012+05:30', '1999-12-31', '1 year 2 mons 3 days 04:05:06', ${['a', 'b,c', '"d"', null] as string[]}, true),
    (null, null, null, null, null, null, null, null, null, null),
    ('', 'null'::jsonb, '\\x'::bytea, -0.000001, 'NaN', 'infinity', '-infinity', '-1 day', '{}', false)`
}

const TABLES = ['users', 'posts', 'comments', 'refresh_tokens', 'kinds']

/** A bundle's parts, decompressed: the header, the manifest, the rows' frames. */
function splitBundle(bytes: Buffer) {
  const plain = gunzipSync(bytes)
  const magic = plain.subarray(0, 18)
  const length = plain.readUInt32BE(18)
  const manifest = JSON.parse(plain.subarray(22, 22 + length).toString('utf8'))
  return { magic, manifest, rest: plain.subarray(22 + length) }
}

function joinBundle(parts: { magic: Buffer; manifest: unknown; rest: Buffer }): Buffer {
  const json = Buffer.from(JSON.stringify(parts.manifest))
  const length = Buffer.alloc(4)
  length.writeUInt32BE(json.length)
  return gzipSync(Buffer.concat([parts.magic, length, json, parts.rest]))
}

// The file runs many tenantctl processes one after another: a deadline against hangs only.
t.setTimeout(600_000)

t.test('export, import and restore through tenantctl', { timeout: 600_000 }, async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const dir = t.testdir()
  const config = await writeDeployment(dir)
  await cli(t, db, config, ['migrate'])
  const source = randomSchema('src')
  await cli(t, db, config, ['create', '--name', `Source ${source}`, '--address', '1 Main St', '--schema', source, '--key-name', 'ci'])
  await fillTenant(db.sql, source)
  const bundle = path.join(dir, 'source.tenant.gz')

  const exported = parseJson<{ rows: number; tables: { name: string; rows: number }[]; apiKeys: number }>(
    t,
    await cli(t, db, config, ['export', source, '-o', bundle, '--with-keys', '--json']),
  )
  t.equal(exported.rows, 2 + 2 + 2 + 1 + 3, 'every row is exported')
  t.equal(exported.apiKeys, 1)
  t.ok((await stat(bundle)).size < 300_000, 'the rows are compressed')

  t.test('the round trip gives every row equal, value by value', async (t) => {
    const target = randomSchema('dst')
    const imported = parseJson<{ schemaName: string; rows: number; to: Record<string, number> }>(
      t,
      await cli(t, db, config, ['import', bundle, '--schema', target, '--name', `Copy ${target}`, '--json']),
    )
    t.equal(imported.rows, exported.rows)
    t.same(imported.to, { core: 3, comments: 1, kinds: 1 })
    for (const table of TABLES) {
      // Every value as the server writes it (infinity and NaN included), then as the driver reads it.
      t.strictSame(
        await db.sql`select t::text as row from ${db.sql(target)}.${db.sql(table)} t order by id`,
        await db.sql`select t::text as row from ${db.sql(source)}.${db.sql(table)} t order by id`,
        `${table} is equal as text`,
      )
      if (table === 'kinds') continue
      t.strictSame(
        await db.sql`select * from ${db.sql(target)}.${db.sql(table)} order by id`,
        await db.sql`select * from ${db.sql(source)}.${db.sql(table)} order by id`,
        `${table} is equal as values`,
      )
    }
    const kinds = await db.sql`select doc, blob, at, amount, tags from ${db.sql(target)}.kinds order by id limit 1`
    t.same(kinds[0]!.doc, { a: [1, 'two', null], 'b"': { c: true } })
    t.equal((kinds[0]!.blob as Buffer).length, 70_000)
    t.equal((kinds[0]!.at as Date).toISOString(), '2001-02-02T22:35:06.789Z')
    const [registry] = await db.sql`select address, migrations from public.tenants where schema_name = ${target}`
    t.same(registry, { address: '1 Main St', migrations: { core: 3, comments: 1, kinds: 1 } })
    // Sequences are past the loaded ids and past the ones the source handed out.
    const [post] = await db.sql<
      { id: number }[]
    >`insert into ${db.sql(target)}.posts (author_id, title, body) values (1, 'new', '') returning id`
    t.equal(post!.id, 5, 'the next post id follows the source sequence (4 was its last, 3 the largest left)')
    const keys =
      await db.sql`select k.prefix from public.api_keys k join public.tenants t on t.id = k.tenant_id where t.schema_name = ${target}`
    t.equal(keys.length, 0, 'no key without --with-keys')
    const doctor = await cli(t, db, config, ['doctor'])
    t.match(doctor.stdout, /No problems found/)
  })

  t.test('keys travel only with --with-keys, and never when a tenant here holds them', async (t) => {
    const before = await snapshot(db.sql)
    const refused = await cli(t, db, config, ['import', bundle, '--schema', randomSchema('k'), '--name', 'Keys', '--with-keys'], 1)
    t.match(refused.stderr, /already holds api key tb_[0-9a-f]{12}/)
    t.equal(await snapshot(db.sql), before, 'nothing was written')
  })

  t.test('a bundle of another deployment at an older state is migrated forward to this one', async (t) => {
    const other = await createTestDatabase()
    t.teardown(() => other.drop())
    const older = await writeDeployment(path.join(dir, 'older'), { kinds: false })
    const legacy = randomSchema('old')
    await cli(t, other, older, ['migrate'])
    await cli(t, other, older, ['create', '--name', `Old ${legacy}`, '--address', '', '--schema', legacy])
    await other.sql`insert into ${other.sql(legacy)}.users (email, password_hash) values ('old@example.com', 'h')`
    const file = path.join(dir, 'older.tenant.gz')
    await cli(t, other, older, ['export', legacy, '-o', file])
    const target = randomSchema('fwd')
    const imported = parseJson<{ from: object; to: object }>(
      t,
      await cli(t, db, config, ['import', file, '--schema', target, '--name', target, '--json']),
    )
    t.same(imported.from, { core: 3, comments: 1 })
    t.same(imported.to, { core: 3, comments: 1, kinds: 1 })
    t.same(await db.sql`select email from ${db.sql(target)}.users`, [{ email: 'old@example.com' }])
    t.same(await db.sql`select count(*)::int as n from ${db.sql(target)}.kinds`, [{ n: 0 }], 'the newer module table exists')
  })

  t.test('a bundle this deployment cannot take is refused before anything is written', async (t) => {
    const original = await readFile(bundle)
    const parts = splitBundle(original)
    const edit = (change: (manifest: any) => void) => {
      const manifest = structuredClone(parts.manifest)
      change(manifest)
      return joinBundle({ ...parts, manifest })
    }
    const dataAt = parts.rest.indexOf(Buffer.from('ann@example.com'))
    const tamperedRows = Buffer.from(parts.rest)
    tamperedRows[dataAt] = 'b'.charCodeAt(0)
    // Rows that break a foreign key, under a manifest that agrees with them: exported from a
    // tenant whose key was dropped.
    const orphanSchema = randomSchema('orphan')
    await cli(t, db, config, ['create', '--name', `Orphan ${orphanSchema}`, '--address', '', '--schema', orphanSchema])
    await db.sql`alter table ${db.sql(orphanSchema)}.posts drop constraint posts_author_id_fkey`
    await db.sql`insert into ${db.sql(orphanSchema)}.posts (author_id, title, body) values (4242, 'orphan', '')`
    const orphan = path.join(dir, 'orphan.tenant.gz')
    await cli(t, db, config, ['export', orphanSchema, '-o', orphan])
    await cli(t, db, config, ['delete', orphanSchema, '--force', '--yes'])
    const cases: [string, Buffer, RegExp, number?][] = [
      ['rows breaking a foreign key', await readFile(orphan), /posts in the bundle break its foreign key posts_author_id_fkey/],
      ['truncated', original.subarray(0, Math.floor(original.length / 2)), /truncated/],
      ['not gzip', Buffer.from('hello, this is not a bundle'), /damaged|not a tenant bundle/],
      ['a tampered checksum', edit((m) => (m.tables[0].checksum = '12345')), /do not match the manifest's checksum/],
      ['tampered rows', joinBundle({ ...parts, rest: tamperedRows }), /do not match the manifest's checksum/],
      ['huge counts', edit((m) => (m.tables[1].rows = 1e15)), /holds \d+ rows, its manifest says 1000000000000000/],
      ['a wrong format version', edit((m) => (m.formatVersion = 2)), /format version 2 is not supported/],
      ['a table name escaping the schema', edit((m) => (m.tables[0].name = 'public.tenants')), /manifest is invalid/],
      ['a schema name escaping', edit((m) => (m.tenant.schemaName = 'x"; drop schema public; --')), /manifest is invalid/],
      [
        'a table the migrations do not know',
        edit((m) => m.tables.push({ ...m.tables[0], name: 'ghost', rows: 0, checksum: '0' })),
        /ghost that the migrations/,
      ],
      [
        'a module this deployment lacks',
        edit((m) => (m.migrations.state.billing = 1)),
        /module billing, which this deployment does not declare/,
      ],
      ['a newer deployment', edit((m) => (m.migrations.state.core = 99)), /from a newer deployment/],
      [
        'another file at an applied version',
        edit((m) => (m.migrations.applied[0].checksum = 'f'.repeat(64))),
        /different file \(checksum mismatch\)/,
      ],
    ]
    for (const [label, bytes, message, code] of cases) {
      const file = path.join(dir, `hostile-${label.replace(/\W+/g, '-')}.gz`)
      await writeFile(file, bytes)
      const before = await snapshot(db.sql)
      const result = await cli(
        t,
        db,
        config,
        ['import', file, '--schema', randomSchema('h'), '--name', `Hostile ${label}`, '--json'],
        code ?? 2,
      )
      t.match(result.stderr, message, `${label}: a clear message`)
      t.notMatch(result.stderr, /unexpected|at .*\.js:\d+/, `${label}: no stack trace`)
      t.match(parseJson<{ error: { code: string } }>(t, result).error.code, /^BUNDLE_/, `${label}: a bundle error code`)
      t.equal(await snapshot(db.sql), before, `${label}: nothing was written`)
    }
    const missing = await cli(t, db, config, ['import', path.join(dir, 'no-such-file.gz')], 1)
    t.match(missing.stderr, /cannot read bundle/)
    const badSchema = await cli(t, db, config, ['import', bundle, '--schema', 'Robert"); drop table'], 2)
    t.match(badSchema.stderr, /schema name must start with a lowercase letter/)
    const taken = await cli(t, db, config, ['import', bundle, '--schema', source, '--name', 'Another'], 1)
    t.match(taken.stderr, /schema "src_[0-9a-f]+" is already taken/)
  })

  t.test('a killed import (kill -9) leaves nothing behind', async (t) => {
    const slow = await writeDeployment(path.join(dir, 'slow'), { slow: true })
    // The server notices a lost client within this, not only when its statement ends.
    await db.sql`alter database ${db.sql(new URL(db.url).pathname.slice(1))} set client_connection_check_interval = '100ms'`
    const before = await snapshot(db.sql)
    const files = await db.sql`select module, version from public.tenant_migration_files order by 1, 2`
    const child = spawn(process.execPath, [BIN, 'import', bundle, '--schema', randomSchema('kill'), '--name', 'Killed'], {
      env: childEnv({ DATABASE_URL: db.url, TENANTBASE_CONFIG: slow }),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)))
    // The rows are loaded and the import is in its last migration when it is killed.
    for (;;) {
      const [row] = await db.sql<{ count: number }[]>`
        select count(*)::int as count from pg_stat_activity
        where datname = current_database() and state = 'active' and query like 'create table slow%'`
      if (row!.count > 0 || child.exitCode !== null) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    t.equal(child.exitCode, null, 'the import was still running')
    child.kill('SIGKILL')
    t.equal(await exited, 'SIGKILL')
    // The server rolls the transaction back once it sees the connection gone.
    for (;;) {
      const [row] = await db.sql<{ count: number }[]>`
        select count(*)::int as count from pg_stat_activity where datname = current_database() and query like 'create table slow%'`
      if (row!.count === 0) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    t.equal(await snapshot(db.sql), before, 'no registry row, key, audit row or schema')
    t.same(await db.sql`select module, version from public.tenant_migration_files order by 1, 2`, files, 'no migration file recorded')
  })

  t.test('domains travel only with --with-domains, never onto a host a tenant here holds', async (t) => {
    const owner = randomSchema('dom')
    const hosts = [`${owner}.example.test`, `shop.${owner}.example.test`]
    await cli(t, db, config, [
      'create',
      '--name',
      `Domains ${owner}`,
      '--address',
      '',
      '--schema',
      owner,
      '--domain',
      hosts[0]!,
      '--domain',
      hosts[1]!,
    ])
    await cli(t, db, config, ['domains', 'add', owner, hosts[1]!, '--primary'])
    await cli(t, db, config, ['registration', owner, 'open'])
    await db.sql`insert into ${db.sql(owner)}.users (email, password_hash) values ('dom@example.com', 'h')`
    const withDomains = path.join(dir, 'domains.tenant.gz')
    const withoutDomains = path.join(dir, 'no-domains.tenant.gz')
    const exported = parseJson<{ domains: number }>(
      t,
      await cli(t, db, config, ['export', owner, '-o', withDomains, '--with-domains', '--json']),
    )
    t.equal(exported.domains, 2)
    t.same(splitBundle(await readFile(withDomains)).manifest.domains, [
      { host: hosts[1], primary: true },
      { host: hosts[0], primary: false },
    ])
    t.equal(splitBundle(await readFile(withDomains)).manifest.tenant.openRegistration, true)
    await cli(t, db, config, ['export', owner, '-o', withoutDomains])
    const plain = splitBundle(await readFile(withoutDomains)).manifest
    t.equal(plain.domains, undefined, 'no domains without --with-domains')
    t.equal(plain.tenant.openRegistration, true, 'the open-registration switch is always carried')
    const [exportAudit] = await db.sql<{ detail: { withDomains: boolean; domains?: string[] } }[]>`
      select detail from public.audit_events where action = 'tenant.export' and schema_name = ${owner} order by id limit 1`
    t.equal(exportAudit!.detail.withDomains, true)
    t.same(exportAudit!.detail.domains, [hosts[1], hosts[0]])

    const domainRows = () => db.sql`select tenant_id, host, is_primary from public.tenant_domains order by id`
    const refuse = async (args: string[], exit: number, message: RegExp, code: string) => {
      const before = await snapshot(db.sql)
      const domainsBefore = await domainRows()
      const result = await cli(t, db, config, [...args, '--json'], exit)
      t.match(result.stderr, message)
      t.equal(parseJson<{ error: { code: string } }>(t, result).error.code, code)
      t.equal(await snapshot(db.sql), before, `${code}: nothing was written`)
      t.same(await domainRows(), domainsBefore, `${code}: no domain was written`)
    }
    await refuse(
      ['import', withDomains, '--schema', randomSchema('taken'), '--name', 'Taken', '--with-domains'],
      1,
      /already holds domain .*example\.test of the bundle/,
      'DOMAIN_TAKEN',
    )
    await cli(t, db, config, ['domains', 'remove', hosts[0]!])
    await refuse(
      ['import', withDomains, '--schema', randomSchema('taken'), '--name', 'Taken', '--with-domains'],
      1,
      new RegExp(`already holds domain ${hosts[1]!.replace(/\./g, '\\.')}`),
      'DOMAIN_TAKEN',
    )
    await refuse(
      ['import', withoutDomains, '--schema', randomSchema('nod'), '--name', 'No domains', '--with-domains'],
      2,
      /exported without --with-domains/,
      'BUNDLE_WITHOUT_DOMAINS',
    )

    // The round trip: the tenant deleted, its bundle brings its domains back.
    await cli(t, db, config, ['delete', owner, '--yes', '--force'])
    const imported = parseJson<{ tenantId: number; domains: string[]; openRegistration: boolean }>(
      t,
      await cli(t, db, config, ['import', withDomains, '--with-domains', '--json']),
    )
    t.same(imported.domains, [hosts[1], hosts[0]])
    t.equal(imported.openRegistration, true)
    const listed = parseJson<{ host: string; schemaName: string; isPrimary: boolean }[]>(
      t,
      await cli(t, db, config, ['domains', 'list', owner, '--json']),
    )
    t.same(
      listed.map(({ host, schemaName, isPrimary }) => ({ host, schemaName, isPrimary })),
      [
        { host: hosts[1], schemaName: owner, isPrimary: true },
        { host: hosts[0], schemaName: owner, isPrimary: false },
      ],
      'the domains are back, the primary as it was',
    )
    t.same(await db.sql`select open_registration from public.tenants where schema_name = ${owner}`, [{ openRegistration: true }])
    t.match((await cli(t, db, config, ['registration', owner, 'open'])).stdout, /already open/)
    const [importAudit] = await db.sql<{ detail: { withDomains: boolean; domains?: string[]; openRegistration: boolean } }[]>`
      select detail from public.audit_events where action = 'tenant.import' and tenant_id = ${imported.tenantId}`
    t.same(
      { withDomains: importAudit!.detail.withDomains, domains: importAudit!.detail.domains, open: importAudit!.detail.openRegistration },
      { withDomains: true, domains: [hosts[1], hosts[0]], open: true },
    )

    // Without the flag: no domain, the switch as the bundle says.
    const copy = randomSchema('cpy')
    const noFlag = parseJson<{ domains: string[] }>(
      t,
      await cli(t, db, config, ['import', withDomains, '--schema', copy, '--name', `Copy ${copy}`, '--json']),
    )
    t.same(noFlag.domains, [])
    t.same(parseJson(t, await cli(t, db, config, ['domains', 'list', copy, '--json'])), [])
    t.same(await db.sql`select open_registration from public.tenants where schema_name = ${copy}`, [{ openRegistration: true }])
  })

  t.test('a bundle written before domains and open registration travelled still imports', async (t) => {
    const parts = splitBundle(await readFile(bundle))
    t.equal(parts.manifest.formatVersion, 1, 'still format version 1')
    const manifest = structuredClone(parts.manifest)
    delete manifest.tenant.openRegistration
    delete manifest.domains
    t.strictSame(Object.keys(manifest.tenant).sort(), [
      'address',
      'createdAt',
      'id',
      'name',
      'schemaName',
      'suspendedAt',
      'suspensionReason',
      'suspensionReasonPublic',
    ])
    const file = path.join(dir, 'before-domains.tenant.gz')
    await writeFile(file, joinBundle({ ...parts, manifest }))
    const target = randomSchema('old')
    const imported = parseJson<{ rows: number; domains: string[]; openRegistration: boolean }>(
      t,
      await cli(t, db, config, ['import', file, '--schema', target, '--name', `Before ${target}`, '--json']),
    )
    t.equal(imported.rows, exported.rows)
    t.same(imported.domains, [])
    t.equal(imported.openRegistration, false, 'open registration off when the bundle does not say')
    t.same(await db.sql`select open_registration from public.tenants where schema_name = ${target}`, [{ openRegistration: false }])
    const refused = await cli(t, db, config, ['import', file, '--schema', randomSchema('old'), '--name', 'Again', '--with-domains'], 2)
    t.match(refused.stderr, /exported without --with-domains/)
  })

  t.test('restore puts the tenant back and keeps the replaced content', async (t) => {
    await db.sql`delete from ${db.sql(source)}.comments`
    await db.sql`insert into ${db.sql(source)}.users (email, password_hash) values ('late@example.com', 'h')`
    // Added after the export: a restore puts back the schema's content, not the registry's.
    const host = `${source}.restore.example.test`
    await cli(t, db, config, ['domains', 'add', source, host, '--primary'])
    await cli(t, db, config, ['registration', source, 'open'])
    const [before] = await db.sql<{ id: number }[]>`select id from public.tenants where schema_name = ${source}`
    const restored = parseJson<{ previousSchema: string; rows: number }>(
      t,
      await cli(t, db, config, ['restore', bundle, '--into', source, '--json']),
    )
    t.equal(restored.rows, exported.rows)
    t.match(restored.previousSchema, new RegExp(`^${source}_prev_\\d{14}$`))
    t.same(await db.sql`select count(*)::int as n from ${db.sql(source)}.comments`, [{ n: 2 }], 'the deleted comments are back')
    t.same(await db.sql`select email from ${db.sql(restored.previousSchema)}.users where email = 'late@example.com'`, [
      { email: 'late@example.com' },
    ])
    t.same(await db.sql`select count(*)::int as n from ${db.sql(source)}.users where email = 'late@example.com'`, [{ n: 0 }])
    const [after] = await db.sql<{ id: number }[]>`select id from public.tenants where schema_name = ${source}`
    t.equal(after!.id, before!.id, 'the same tenant, its keys kept')
    t.same(
      await db.sql`select d.host, d.is_primary as "primary", t.open_registration as "open"
        from public.tenant_domains d join public.tenants t on t.id = d.tenant_id where t.schema_name = ${source}`,
      [{ host, primary: true, open: true }],
      'its domains and open registration are kept',
    )
    t.match((await cli(t, db, config, ['doctor'])).stdout, /No problems found/, 'the kept copy is no finding')

    const dropped = parseJson<{ previousSchema: string | null; droppedPrevious: string[] }>(
      t,
      await cli(t, db, config, ['restore', bundle, '--into', source, '--drop-previous', '--json']),
    )
    t.equal(dropped.previousSchema, undefined)
    t.same(dropped.droppedPrevious, [restored.previousSchema])
    const left = await db.sql`select nspname from pg_namespace where nspname like ${`${source}_%`}`
    t.same(left, [], 'no copy, no sibling left')

    const unknown = await cli(t, db, config, ['restore', bundle, '--into', randomSchema('none')], 1)
    t.match(unknown.stderr, /no tenant with schema/)
  })
})
