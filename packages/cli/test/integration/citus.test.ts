import t from 'tap'
import { testCitusWorkers } from '@tenantbase/core/testing'
import { parseJson, randomSchema, runCli, setupDatabase } from '../helpers.js'

interface ListedTenant {
  schemaName: string
  node?: string | null
}

const workers = testCitusWorkers().map((w) => `${w.host}:${w.port}`)
const onCitus = workers.length > 0

t.test(
  'without Citus: move says so (exit 2), list and show name no node, doctor stays silent',
  { skip: onCitus && 'runs on plain PostgreSQL only' },
  async (t) => {
    const { db, services } = await setupDatabase(t)
    const schema = randomSchema('plain')
    await services.tenants.createTenant({ name: `Plain ${schema}`, schemaName: schema })
    const move = await runCli(['move', schema, '--to', '127.0.0.1:5432'], { url: db.url })
    t.equal(move.code, 2)
    t.match(move.stderr, /not a Citus cluster/)
    t.notMatch(move.stderr, /Moving/, 'refused before it says it is moving')
    const listed = parseJson<ListedTenant[]>(t, await runCli(['list', '--json'], { url: db.url }))
    t.same(
      listed.map((tenant) => 'node' in tenant),
      [false],
    )
    t.notOk('node' in parseJson<object>(t, await runCli(['show', schema, '--json'], { url: db.url })))
    t.notMatch((await runCli(['list'], { url: db.url })).stdout, /NODE/)
    t.equal((await runCli(['doctor'], { url: db.url })).code, 0)
  },
)

t.test(
  'on Citus: a created tenant is a distributed schema on a worker, and list and show name it',
  { skip: !onCitus && 'needs TEST_CITUS_WORKERS (a Citus cluster)' },
  async (t) => {
    const { db } = await setupDatabase(t)
    const schema = randomSchema('citus')
    const created = await runCli(['create', '--name', `Citus ${schema}`, '--address', '', '--schema', schema], { url: db.url })
    t.equal(created.code, 0, created.stderr)
    const [row] = await db.sql`select count(*)::int as count from citus_schemas where schema_name = ${schema}::regnamespace`
    t.equal(row!.count, 1, 'the schema is in citus_schemas')
    const [listed] = parseJson<ListedTenant[]>(t, await runCli(['list', '--json'], { url: db.url }))
    t.ok(workers.includes(listed!.node ?? ''), `list names a worker (${listed!.node})`)
    const shown = parseJson<{ node: string }>(t, await runCli(['show', schema, '--json'], { url: db.url }))
    t.equal(shown.node, listed!.node)
    t.match((await runCli(['show', schema], { url: db.url })).stdout, new RegExp(`node\\s+${listed!.node}`))
  },
)

t.test(
  'on Citus: doctor finds sharding off and a tenant schema made then, and its fixes work',
  { skip: !onCitus && 'needs TEST_CITUS_WORKERS (a Citus cluster)' },
  async (t) => {
    const { db } = await setupDatabase(t)
    const database = new URL(db.url).pathname.slice(1)
    const schema = randomSchema('undist')
    // A tenant made while schema-based sharding was off, as in a deployment that predates it.
    await db.sql`alter database ${db.sql(database)} set citus.enable_schema_based_sharding = off`
    const created = await runCli(['create', '--name', `U ${schema}`, '--address', '', '--schema', schema], { url: db.url })
    t.equal(created.code, 0, created.stderr)
    const off = parseJson<{ findings: { kind: string; schema: string | null; fix: string }[] }>(
      t,
      await runCli(['doctor', '--json'], { url: db.url }),
    )
    t.same(
      off.findings.map((f) => [f.kind, f.schema]),
      [
        ['undistributed-schema', schema],
        ['schema-sharding-off', null],
      ],
    )
    t.match(off.findings[1]!.fix, `ALTER DATABASE "${database}" SET citus.enable_schema_based_sharding = on`)
    const [listed] = parseJson<ListedTenant[]>(t, await runCli(['list', '--json'], { url: db.url }))
    t.equal(listed!.node, null, 'list says it is not distributed')

    await db.sql`alter database ${db.sql(database)} set citus.enable_schema_based_sharding = on`
    const found = await runCli(['doctor'], { url: db.url })
    t.equal(found.code, 1)
    t.match(found.stdout, `fix: run SELECT citus_schema_distribute('${schema}') on the coordinator`)
    await db.sql`select citus_schema_distribute(${schema}::regnamespace)`
    t.equal((await runCli(['doctor'], { url: db.url })).code, 0, 'after the printed fixes doctor is clean')
  },
)

t.test(
  'on Citus: move takes a tenant to another worker with its data; bad targets are refused',
  { skip: !onCitus && 'needs TEST_CITUS_WORKERS (a Citus cluster)' },
  async (t) => {
    const { db, services } = await setupDatabase(t)
    const schema = randomSchema('move')
    const { tenant } = await services.tenants.createTenant({ name: `M ${schema}`, schemaName: schema })
    const user = await services.users.registerUser(tenant, { email: 'mover@example.com', password: 'correct horse battery' })
    for (let i = 0; i < 20; i++) await services.posts.createPost(tenant, user.id, { title: `post ${i}`, body: 'b'.repeat(500) })
    const [before] = parseJson<ListedTenant[]>(t, await runCli(['list', '--json'], { url: db.url }))
    const target = workers.find((w) => w !== before!.node)!

    const moved = await runCli(['move', schema, '--to', target, '--json'], { url: db.url, guardMs: 120_000 })
    t.equal(moved.code, 0, moved.stderr)
    t.match(parseJson(t, moved), { schema, from: before!.node, to: target })
    const [after] = parseJson<ListedTenant[]>(t, await runCli(['list', '--json'], { url: db.url }))
    t.equal(after!.node, target)
    t.equal((await services.posts.listPosts(tenant, { limit: 50 })).results.length, 20, 'every post came along')

    const again = await runCli(['move', schema, '--to', target], { url: db.url })
    t.equal(again.code, 1)
    t.match(again.stderr, `already on ${target}`)
    const unknown = await runCli(['move', schema, '--to', '127.0.0.1:1'], { url: db.url })
    t.equal(unknown.code, 2)
    t.match(unknown.stderr, /127\.0\.0\.1:1 is not a Citus worker of this cluster \(workers: /)
    t.notMatch(unknown.stderr, /Moving/, 'refused before it says it is moving')
    const garbled = await runCli(['move', schema, '--to', 'no-port'], { url: db.url })
    t.equal(garbled.code, 2)
    t.match(garbled.stderr, /"no-port" is not a node address: give host:port/)
    const missing = await runCli(['move', 'no_such_tenant', '--to', target], { url: db.url })
    t.equal(missing.code, 1)
    t.match(missing.stderr, /no tenant with schema no_such_tenant/)

    await db.sql`create table ${db.sql(schema)}.scratch (note text)`
    const keyless = await runCli(['move', schema, '--to', before!.node!], { url: db.url })
    t.equal(keyless.code, 2)
    t.match(keyless.stderr, /cannot move live: no primary key on scratch/)
    const [still] = parseJson<ListedTenant[]>(t, await runCli(['list', '--json'], { url: db.url }))
    t.equal(still!.node, target, 'a refused move moved nothing')
  },
)
