import t from 'tap'
import { suggestSchemaName } from '@tenantbase/core'
import { runCreate } from '../../src/commands/create.js'
import { CancelledError, UsageError } from '../../src/errors.js'
import { randomSchema, scriptedPrompter, setupDatabase, testContext } from '../helpers.js'

// Command logic with injected prompts, against a real database.

t.test('asks for each missing flag, suggests the schema, confirms, then creates', async (t) => {
  const { services } = await setupDatabase(t)
  const name = `Acme ${randomSchema('n')}`
  const { prompter, asked } = scriptedPrompter([
    { question: /^Tenant name/, answers: [name] },
    { question: /^Address/, answers: ['1 Main St'] },
    { question: /^Schema name/, answers: [undefined] },
    { question: /^Name of the first api key/, answers: ['ci'] },
    { question: /^Create this tenant/, answers: [true] },
  ])
  const { ctx, stdout } = testContext(services, { prompts: prompter })
  const { tenant, apiKey } = await runCreate(ctx, {})
  t.same(
    asked.map((q) => q.message),
    ['Tenant name', 'Address (optional)', 'Schema name', 'Name of the first api key', 'Create this tenant?'],
  )
  t.equal(asked[2]!.default, suggestSchemaName(name), 'schema suggested from the name')
  t.equal(tenant.schemaName, suggestSchemaName(name))
  t.equal(tenant.address, '1 Main St')
  t.equal(apiKey.name, 'ci')
  t.match(stdout.text(), /About to create:[\s\S]*schema\s+acme_n_/)
  t.match(stdout.text(), apiKey.key, 'the key is printed')
  t.match(stdout.text(), /not shown again/)
  t.equal((await services.apiKeyResolver.resolve(apiKey.key)).schemaName, tenant.schemaName)
})

t.test('an invalid or taken schema name is refused with a reason and asked again', async (t) => {
  const { services } = await setupDatabase(t)
  const taken = randomSchema('taken')
  await services.tenants.createTenant({ name: `Taken ${taken}`, schemaName: taken })
  const good = randomSchema('good')
  const { prompter, asked } = scriptedPrompter([
    { question: /^Tenant name/, answers: ['', `Good ${good}`] },
    { question: /^Address/, answers: [undefined] },
    { question: /^Schema name/, answers: ['Bad Name', 'pg_nope', taken, good] },
    { question: /^Name of the first api key/, answers: [undefined] },
    { question: /^Create this tenant/, answers: [undefined] },
  ])
  const { ctx } = testContext(services, { prompts: prompter })
  const { tenant, apiKey } = await runCreate(ctx, {})
  t.equal(tenant.schemaName, good)
  t.equal(apiKey.name, 'default', 'the default key name')
  t.same(asked[0]!.refusals, ['enter 1 to 200 characters'])
  const refusals = asked.find((q) => q.message === 'Schema name')!.refusals
  t.equal(refusals.length, 3)
  t.match(refusals[0], /must start with a lowercase letter/)
  t.match(refusals[1], /reserved/)
  t.match(refusals[2], new RegExp(`"${taken}" is already taken`))
})

t.test('flags given are not asked; the rest are', async (t) => {
  const { services } = await setupDatabase(t)
  const schema = randomSchema('flag')
  const { prompter, asked } = scriptedPrompter([
    { question: /^Address/, answers: ['Somewhere'] },
    { question: /^Name of the first api key/, answers: ['ops'] },
    { question: /^Create this tenant/, answers: [true] },
  ])
  const { ctx } = testContext(services, { prompts: prompter })
  const { tenant } = await runCreate(ctx, { name: `Flagged ${schema}`, schema })
  t.same(
    asked.map((q) => q.message),
    ['Address (optional)', 'Name of the first api key', 'Create this tenant?'],
  )
  t.equal(tenant.schemaName, schema)
})

t.test('declining the summary creates nothing', async (t) => {
  const { db, services } = await setupDatabase(t)
  const schema = randomSchema('no')
  const { prompter } = scriptedPrompter([
    { question: /^Tenant name/, answers: ['Declined'] },
    { question: /^Address/, answers: [''] },
    { question: /^Schema name/, answers: [schema] },
    { question: /^Name of the first api key/, answers: [undefined] },
    { question: /^Create this tenant/, answers: [false] },
  ])
  const { ctx } = testContext(services, { prompts: prompter })
  await t.rejects(runCreate(ctx, {}), CancelledError)
  const [{ count } = { count: -1 }] = await db.sql`select count(*)::int as count from public.tenants`
  const [schemas] = await db.sql`select count(*)::int as count from pg_namespace where nspname = ${schema}`
  t.same([count, schemas!.count], [0, 0])
})

t.test('every flag given: asks nothing, even with a terminal', async (t) => {
  const { services } = await setupDatabase(t)
  const schema = randomSchema('all')
  const { prompter, asked } = scriptedPrompter([])
  const { ctx } = testContext(services, { prompts: prompter, json: true })
  const { tenant } = await runCreate(ctx, { name: `All ${schema}`, address: '', schema, keyName: 'deploy' })
  t.same(asked, [])
  t.equal(tenant.schemaName, schema)
})

t.test('no terminal and a missing flag: a usage error before the database is opened', async (t) => {
  const { services } = await setupDatabase(t)
  const { ctx, openedDatabase } = testContext(services, { prompts: undefined })
  await t.rejects(runCreate(ctx, { name: 'No Schema', address: '' }), UsageError)
  await t.rejects(runCreate(ctx, { name: 'No Schema', address: '' }), { message: /missing --schema/ })
  await t.rejects(runCreate(ctx, {}), { message: /missing --name, --address, --schema/ })
  t.equal(openedDatabase(), false)
  t.same(await services.tenants.listTenants(), [])
})
