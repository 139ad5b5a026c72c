import { spawn } from 'node:child_process'
import { once } from 'node:events'
import postgres from 'postgres'
import t, { type Test } from 'tap'
import { createTestDatabase, freePort, testServerUrl } from '../../src/testing.js'

// The harness every test file starts from (@tenantbase/core/testing). On a Citus cluster it
// spreads each file's database over the workers; when that fails, the file must still end
// (an open connection would hold it until tap's timeout) and leave nothing behind.

/**
 * Runs createTestDatabase in a process of its own, as a test file does, with one Citus worker
 * that nobody answers for: the set-up fails at its first step on that worker. Resolves with
 * what the process printed once it ends by itself, which it does only when nothing of the
 * set-up is left open.
 */
async function failedCitusSetUp(t: Test): Promise<{ code: number | null; output: string }> {
  const port = await freePort()
  const script = `
    import { createTestDatabase } from ${JSON.stringify(new URL('../../src/testing.ts', import.meta.url).href)}
    await createTestDatabase({ citusWorkers: [{ host: '127.0.0.1', port: ${port} }] }).then(
      () => console.log('created'),
      (error) => console.log(error.message),
    )`
  const env: NodeJS.ProcessEnv = { ...process.env, TEST_DATABASE_URL: testServerUrl() }
  delete env.NODE_OPTIONS // tap's hooks in a child of the test
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  // Killed with the test if it never ends (the failure this guards against), so it outlives nothing.
  t.teardown(() => void child.kill('SIGKILL'))
  let output = ''
  child.stdout.on('data', (chunk) => (output += String(chunk)))
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, output }
}

t.test('a Citus set-up that fails ends its process and leaves no database behind', async (t) => {
  const { code, output } = await failedCitusSetUp(t)
  t.equal(code, 0, 'the process ended by itself: no connection was left open')
  const name = /could not make test database (tb_test_[0-9a-f]+) a Citus cluster: .*ECONNREFUSED/.exec(output)?.[1]
  t.ok(name, `the error names the database and the cause: ${output}`)

  const admin = postgres(testServerUrl(), { max: 1, onnotice: () => {} })
  t.teardown(() => admin.end({ timeout: 5 }))
  const [row] = await admin<{ count: number }[]>`select count(*)::int as count from pg_database where datname = ${name ?? ''}`
  t.equal(row!.count, 0, 'the database made for it is dropped')
})

t.test('a test database spans its pools and is gone once dropped', async (t) => {
  const db = await createTestDatabase()
  const name = new URL(db.url).pathname.slice(1)
  const [connected] = await db.sql<{ current: string }[]>`select current_database() as current`
  t.equal(connected!.current, name)
  await db.drop()
  const admin = postgres(testServerUrl(), { max: 1, onnotice: () => {} })
  t.teardown(() => admin.end({ timeout: 5 }))
  const [row] = await admin<{ count: number }[]>`select count(*)::int as count from pg_database where datname = ${name}`
  t.equal(row!.count, 0)
})
