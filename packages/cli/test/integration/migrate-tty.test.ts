import t from 'tap'
import { BIN, JWT_SECRET, randomSchema, setupDatabase } from '../helpers.js'
import { openTerminal } from '../tmux.js'

t.test('in a terminal, migrate draws a progress bar with done and failed counts and an ETA, then the summary', async (t) => {
  const { db, services } = await setupDatabase(t)
  const schemas = Array.from({ length: 3 }, () => randomSchema('bar'))
  for (const schema of schemas) await services.tenants.createTenant({ name: `Bar ${schema}`, schemaName: schema })
  // Put every tenant back at its first migration, so migrate has three to do.
  await db.sql`update public.tenants set migrations = '{"core": 1}'`
  for (const schema of schemas) {
    await db.sql`drop table ${db.sql(schema)}.refresh_tokens`
    await db.sql`drop table ${db.sql(schema)}.idempotency_keys`
    await db.sql`delete from ${db.sql(schema)}.schema_migrations where module = 'core' and version >= 2`
  }
  const term = await openTerminal(t, `node ${BIN} migrate`, { DATABASE_URL: db.url, JWT_SECRET })
  await term.waitFor(/\[exit:\d+\]/, 'the end of the command')
  const screen = await term.screen()
  t.match(screen, /migrating .* 3\/3 \| failed 0 \| ETA/, 'the bar with counts and ETA')
  t.notMatch(screen, /\[1\/3\]/, 'no per-tenant lines in a terminal')
  t.match(screen, /3 migrated to core 3, 0 failed/)
  t.match(screen, /\[exit:0\]/)
})
