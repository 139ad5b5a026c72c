import t from 'tap'
import { parseJson, randomSchema, runCli, setupDatabase } from '../helpers.js'

interface DoctorReport {
  ok: boolean
  findings: { kind: string; schema: string | null; message: string; fix: string }[]
}

t.test('doctor: exit 0 when consistent, exit 1 with each finding and its fix', async (t) => {
  const { db, services } = await setupDatabase(t)
  const [kept, lost] = [randomSchema('kept'), randomSchema('lost')]
  for (const schema of [kept, lost]) await services.tenants.createTenant({ name: `T ${schema}`, schemaName: schema })

  const clean = await runCli(['doctor'], { url: db.url })
  t.equal(clean.code, 0, clean.stderr)
  t.match(clean.stdout, /No problems found/)

  await db.sql`drop schema ${db.sql(lost)} cascade`
  const stray = randomSchema('stray')
  await db.sql`create schema ${db.sql(stray)}`
  await db.sql`create table ${db.sql(stray)}.schema_migrations (version int primary key)`

  const json = await runCli(['doctor', '--json'], { url: db.url })
  t.equal(json.code, 1)
  const report = parseJson<DoctorReport>(t, json)
  t.equal(report.ok, false)
  t.same(
    report.findings.map((f) => [f.kind, f.schema]),
    [
      ['missing-schema', lost],
      ['unregistered-schema', stray],
    ],
  )
  t.match(json.stderr, /^error: doctor found 2 problems\n$/)

  const human = await runCli(['doctor'], { url: db.url })
  t.equal(human.code, 1)
  t.match(
    human.stdout,
    new RegExp(
      `✖ missing-schema: tenant ${lost} is registered but its schema does not exist\\n\\s+fix: run \`tenantctl delete ${lost} --yes --force\``,
    ),
  )
  t.match(human.stdout, new RegExp(`✖ unregistered-schema: schema ${stray}`))

  // Following the printed fix for the missing schema leaves only the stray schema.
  t.equal((await runCli(['delete', lost, '--yes', '--force'], { url: db.url })).code, 0)
  const after = parseJson<DoctorReport>(t, await runCli(['doctor', '--json'], { url: db.url }))
  t.same(
    after.findings.map((f) => f.kind),
    ['unregistered-schema'],
  )
})
