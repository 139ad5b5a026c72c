import { readFile } from 'node:fs/promises'
import t, { type Test } from 'tap'
import { suggestSchemaName } from '@tenantbase/core'
import { BIN, JWT_SECRET, randomSchema, setupDatabase } from '../helpers.js'
import { openTerminal, type Terminal } from '../tmux.js'

// The interactive `create`, driven through a real pseudo-terminal (tmux), answering each prompt.

const KEY = /tb_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/

/** The default key name, yes at the confirmation, then the command's end: exit 0. */
async function acceptTheRest(t: Test, term: Terminal): Promise<void> {
  await term.waitFor(/Name of the first api key/, 'the key name prompt')
  await term.press('Enter')
  await term.waitFor(/Create this tenant\?/, 'the confirmation')
  await term.press('Enter')
  await term.waitFor(/\[exit:\d+\]/, 'the end of the command')
  t.match(await term.screen(), /\[exit:0\]/)
}

t.test('answers every prompt in a terminal; the printed key resolves to the new tenant', async (t) => {
  const { db, services } = await setupDatabase(t)
  const schema = randomSchema('tty')
  const name = `Terminal ${schema}`
  const term = await openTerminal(t, `node ${BIN} create`, { DATABASE_URL: db.url, JWT_SECRET })

  await term.waitFor(/Tenant name/, 'the name prompt')
  await term.type(name)
  await term.press('Enter')
  await term.waitFor(/Address/, 'the address prompt')
  await term.type('1 Terminal Road')
  await term.press('Enter')

  await term.waitFor(/Schema name/, 'the schema prompt')
  await term.type('Not A Schema')
  await term.press('Enter')
  await term.waitFor(/must start with a lowercase letter/, 'the refusal of an invalid schema name')
  await term.press('C-u')
  await term.type(schema)
  await term.press('Enter')

  await term.waitFor(/Name of the first api key/, 'the key name prompt')
  await term.type('operator')
  await term.press('Enter')
  await term.waitFor(/About to create:[\s\S]*Create this tenant\?/, 'the summary and confirmation')
  await term.type('y')
  await term.press('Enter')

  await term.waitFor(/\[exit:\d+\]/, 'the end of the command')
  const text = await term.screen()
  t.match(text, /\[exit:0\]/, 'exit 0')
  t.match(text, /not shown again/, 'warns that the key is shown once')
  const key = text.match(KEY)?.[0]
  t.ok(key, 'an api key is printed')
  const resolved = await services.apiKeyResolver.resolve(key)
  t.equal(resolved.schemaName, schema, 'the key resolves to the new tenant')
  t.equal(resolved.name, name)
  const tenant = await services.tenants.getTenant(schema)
  t.equal(tenant.address, '1 Terminal Road')
  t.same(
    (await services.apiKeys.listApiKeys(tenant)).map((k) => k.name),
    ['operator'],
  )
})

t.test('a taken tenant name is refused at the name prompt, before anything else is asked', async (t) => {
  const { db, services } = await setupDatabase(t)
  const schema = randomSchema('taken')
  const name = `Taken ${schema}`
  await services.tenants.createTenant({ name, schemaName: schema })
  const term = await openTerminal(t, `node ${BIN} create`, { DATABASE_URL: db.url, JWT_SECRET })

  await term.waitFor(/Tenant name/, 'the name prompt')
  await term.type(`  ${name}`)
  await term.press('Enter')
  await term.waitFor(new RegExp(`a tenant named "${name}" already exists`), 'the refusal of a taken name')
  t.notMatch(await term.screen(), /Address/, 'asked nothing else')
  await term.press('C-u')
  await term.type(`${name} 2`)
  await term.press('Enter')
  await term.waitFor(/Address/, 'the address prompt')
  await term.press('Enter')
  await term.waitFor(/Schema name/, 'the schema prompt')
  await term.press('Enter')
  await acceptTheRest(t, term)
  t.same(
    (await services.tenants.listTenants()).map((tenant) => tenant.name),
    [name, `${name} 2`],
  )

  // A taken name given as a flag is refused before the first prompt.
  const flagged = await openTerminal(t, `node ${BIN} create --name "${name}"`, { DATABASE_URL: db.url, JWT_SECRET })
  await flagged.waitFor(/\[exit:\d+\]/, 'the end of the command')
  const screen = await flagged.screen()
  t.match(screen, new RegExp(`a tenant named "${name}" already exists[\\s\\S]*\\[exit:1\\]`))
  t.notMatch(screen, /Address/, 'no prompt was shown')
})

t.test('Ctrl-C at a prompt exits 130 and creates nothing', async (t) => {
  const { db, services } = await setupDatabase(t)
  const term = await openTerminal(t, `node ${BIN} create --name Interrupted`, { DATABASE_URL: db.url, JWT_SECRET })
  await term.waitFor(/Address/, 'the address prompt (the name came from the flag)')
  await term.type('Nowhere')
  await term.press('Enter')
  await term.waitFor(/Schema name/, 'the schema prompt')
  await term.press('C-c')
  await term.waitFor(/\[exit:\d+\]/, 'the end of the command')
  t.match(await term.screen(), /\[exit:130\]/)
  t.same(await services.tenants.listTenants(), [])
})

t.test('delete asks to type the schema name; a wrong name deletes nothing', async (t) => {
  const { db, services } = await setupDatabase(t)
  const schema = randomSchema('del')
  await services.tenants.createTenant({ name: `Delete ${schema}`, schemaName: schema })
  await services.tenants.suspendTenant(schema)

  const wrong = await openTerminal(t, `node ${BIN} delete ${schema}`, { DATABASE_URL: db.url, JWT_SECRET })
  await wrong.waitFor(new RegExp(`Type ${schema} to confirm`), 'the confirmation prompt')
  await wrong.type(`${schema}x`)
  await wrong.press('Enter')
  await wrong.waitFor(/\[exit:\d+\]/, 'the end of the command')
  t.match(await wrong.screen(), /does not match[\s\S]*\[exit:1\]/)
  t.equal((await services.tenants.getTenant(schema)).schemaName, schema, 'still there')

  const right = await openTerminal(t, `node ${BIN} delete ${schema}`, { DATABASE_URL: db.url, JWT_SECRET })
  await right.waitFor(new RegExp(`Type ${schema} to confirm`), 'the confirmation prompt')
  await right.type(schema)
  await right.press('Enter')
  await right.waitFor(/\[exit:\d+\]/, 'the end of the command')
  t.match(await right.screen(), /Deleted tenant[\s\S]*\[exit:0\]/)
  await t.rejects(services.tenants.getTenant(schema), { code: 'TENANT_NOT_FOUND' })
})

t.test('--json in a terminal: prompts on stderr, only the JSON document on stdout', async (t) => {
  const { db, services } = await setupDatabase(t)
  const schema = randomSchema('jsontty')
  const file = `${t.testdir()}/out.json`
  const term = await openTerminal(t, `node ${BIN} create --json --name "Json ${schema}" --address "" > ${file}`, {
    DATABASE_URL: db.url,
    JWT_SECRET,
  })
  await term.waitFor(/Schema name/, 'the schema prompt')
  await term.type(schema)
  await term.press('Enter')
  await acceptTheRest(t, term)
  const written = JSON.parse(await readFile(file, 'utf8')) as { tenant: { schemaName: string }; apiKey: { key: string } }
  t.equal(written.tenant.schemaName, schema)
  t.equal((await services.apiKeyResolver.resolve(written.apiKey.key)).schemaName, schema)
})

t.test('the schema suggested is free; its shape is checked as it is typed', async (t) => {
  const { db, services } = await setupDatabase(t)
  const name = `Acme ${randomSchema('s')}`
  const base = suggestSchemaName(name)
  // Other tenants (other names) already hold the suggestion and its first alternative.
  await services.tenants.createTenant({ name: `First ${base}`, schemaName: base })
  await services.tenants.createTenant({ name: `Second ${base}`, schemaName: `${base}_2` })
  const term = await openTerminal(t, `node ${BIN} create`, { DATABASE_URL: db.url, JWT_SECRET })

  await term.waitFor(/Tenant name/, 'the name prompt')
  await term.type(name)
  await term.press('Enter')
  await term.waitFor(/Address/, 'the address prompt')
  await term.press('Enter')
  await term.waitFor(new RegExp(`Schema name \\(${base}_3\\)`), 'a free schema suggested')

  await term.type('Acme-')
  await term.waitFor(/Acme- {2}✖ schema name must start with a lowercase letter/, 'the problem shown before Enter')
  await term.press('C-u')
  await term.type('acme_ok')
  const [typed] = await term.waitFor(/^.*Schema name.*acme_ok.*$/m, 'the good name typed')
  t.notMatch(typed, /✖/, 'a good name shows no problem')
  await term.press('C-u')
  await term.press('Enter')

  await acceptTheRest(t, term)
  t.equal((await services.tenants.getTenant(`${base}_3`)).name, name, 'created with the suggested schema')
})
