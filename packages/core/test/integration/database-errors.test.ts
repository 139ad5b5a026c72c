import t from 'tap'
import { DatabaseUnavailableError, MigrationError, NotFoundError, createPool, explainDatabaseError, toCoreError } from '../../src/index.js'
import { createTestDatabase, freePort } from '../../src/testing.js'

// How an edge reports an error from work on a database: "database unreachable at host:port"
// exactly when the database is the reason, and never with the credentials.

t.test('a connection error, or one behind another error, names the host and port only', async (t) => {
  const url = 'postgres://svc:s3cret-pw@db.internal:6543/app'
  // Never queried: a connection error is explained from the error alone.
  const sql = createPool(url, { max: 1 })
  t.teardown(() => sql.end({ timeout: 0 }))
  const database = { sql, url }
  const dropped = Object.assign(new Error('write CONNECTION_CLOSED db.internal:6543'), { code: 'CONNECTION_CLOSED' })
  const direct = await explainDatabaseError(dropped, database)
  t.type(direct, DatabaseUnavailableError)
  t.equal((direct as Error).message, 'database unreachable at db.internal:6543: write CONNECTION_CLOSED db.internal:6543')
  const wrapped = await explainDatabaseError(new MigrationError('0002 failed', 'MIGRATION_FAILED', { cause: dropped }), database)
  t.type(wrapped, DatabaseUnavailableError, 'also as the cause of a failed migration')
  t.notMatch((wrapped as Error).message, /s3cret|svc/)
  const notFound = new NotFoundError('no tenant')
  t.equal(await explainDatabaseError(notFound, database), notFound, "a rule's answer stays itself")
})

t.test('an unexpected error is the database only when the database no longer answers', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const odd = new TypeError("Cannot read properties of null (reading 'write')")
  t.equal(await explainDatabaseError(odd, db), odd, 'the database answers: the error is reported as it is')
  const gone = `postgres://postgres:postgres@127.0.0.1:${await freePort()}/none`
  const goneSql = createPool(gone, { max: 1 })
  t.teardown(() => goneSql.end({ timeout: 0 }))
  const explained = await explainDatabaseError(odd, { sql: goneSql, url: gone })
  t.type(explained, DatabaseUnavailableError, 'nothing answers: the database is the reason')
  t.match((explained as Error).message, /^database unreachable at 127\.0\.0\.1:\d+: /)
  t.equal((explained as Error).cause, odd, 'the original kept as the cause')
})

t.test('a query past DB_QUERY_TIMEOUT_MS is canceled and is DatabaseUnavailableError; the pool goes on', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const sql = createPool(db.url, { max: 1, queryTimeoutMs: 200 })
  t.teardown(() => sql.end({ timeout: 1 }))
  const error = await sql`select pg_sleep(60)`.then(
    () => undefined,
    (failure: unknown) => failure,
  )
  t.equal((error as { code?: string }).code, 'QUERY_TIMEOUT', "postgres.js's query_timeout ended it")
  t.equal(((error as Error).cause as { code?: string }).code, '57014', 'the server canceled it')
  const mapped = toCoreError(error)
  t.type(mapped, DatabaseUnavailableError)
  t.match((mapped as Error).message, /^database did not answer in time: /)
  const [row] = await sql<{ one: number }[]>`select 1 as one`
  t.equal(row!.one, 1, 'the same connection answers the next query')
  const none = createPool(db.url, { max: 1 })
  t.teardown(() => none.end({ timeout: 1 }))
  t.equal(none.options.query_timeout, 0, 'no limit unless configured')
})
