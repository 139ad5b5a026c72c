import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import t from 'tap'
import { startEmbeddedCluster } from '../../src/index.js'
import { freePort } from '../../src/testing.js'

t.test('starts once, is joined by a second caller, and keeps its data across restarts', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'tenantbase-embedded-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  const options = {
    dataDir: path.join(root, 'pg'),
    port: await freePort(),
    user: 'postgres',
    password: 'secret',
    database: 'app',
  }
  const first = await startEmbeddedCluster(options)
  t.teardown(() => first.stop())
  t.equal(first.startedHere, true)

  const second = await startEmbeddedCluster(options)
  t.equal(second.startedHere, false, 'the second caller joins the running cluster')
  t.equal(second.url, first.url)

  const sql = postgres(first.url, { max: 1, onnotice: () => {} })
  await sql`create table kept (note text)`
  await sql`insert into kept values ('still here')`
  const [listen] = await sql`select current_setting('listen_addresses') as value`
  t.equal(listen!.value, '127.0.0.1', 'loopback only')
  await sql.end()

  await second.stop()
  await first.stop()
  const stopped = postgres(first.url, { max: 1, connect_timeout: 1 })
  await t.rejects(stopped`select 1`, 'the cluster stopped with its starter')
  await stopped.end({ timeout: 1 })

  const again = await startEmbeddedCluster(options)
  t.teardown(() => again.stop())
  t.equal(again.startedHere, true)
  const reopened = postgres(again.url, { max: 1 })
  const rows = await reopened`select note from kept`
  t.same(
    rows.map((row) => row.note),
    ['still here'],
    'data kept between runs',
  )
  await reopened.end()
})
