import t from 'tap'
import { parseJson, randomSchema, runCli, setupDatabase } from '../helpers.js'

// Under --json, a failing command still gives a script one JSON document to read.

t.test('under --json a failure is one error document on stdout, with the exit code kept', async (t) => {
  const { db, services } = await setupDatabase(t)
  const cases: [string[], Record<string, string>, number, string][] = [
    [['show', 'no_such_tenant', '--json'], {}, 1, 'TENANT_NOT_FOUND'],
    [['create', '--name', 'Half', '--json'], {}, 2, 'USAGE'],
    [['list', '--json', '--bogus'], {}, 2, 'USAGE'],
    [['keys', 'revoke', 'not-a-prefix', '--json'], {}, 2, 'INVALID_KEY_PREFIX'],
    [['list', '--json'], { PORT: 'abc' }, 2, 'CONFIG_INVALID'],
  ]
  for (const [args, env, code, errorCode] of cases) {
    const result = await runCli(args, { url: db.url, env })
    t.equal(result.code, code, `${args.join(' ')} exits ${code}`)
    const document = parseJson<{ error: { code: string; message: string } }>(t, result)
    t.same(Object.keys(document), ['error'], `${args.join(' ')}: only an error`)
    t.equal(document.error.code, errorCode)
    t.ok(document.error.message.length > 0 && !document.error.message.startsWith('error:'), `a message: ${document.error.message}`)
    t.match(result.stderr, /error: /, 'and the line for people on stderr')
  }

  // A command that reports a failed result prints that result, and nothing more.
  const schema = randomSchema('behind')
  await services.tenants.createTenant({ name: `Behind ${schema}`, schemaName: schema })
  await db.sql`update public.tenants set migrations = '{"core": 1}' where schema_name = ${schema}`
  const pending = await runCli(['status', '--json'], { url: db.url })
  t.equal(pending.code, 1)
  t.equal(parseJson<{ ok: boolean }>(t, pending).ok, false, 'the status document itself')
})
