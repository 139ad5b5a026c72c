import t from 'tap'
import { asWriteFailure, isConnectionError, toCoreError } from '../../src/db/pg-errors.js'
import { DatabaseUnavailableError, NotFoundError, WriteOutcomeUnknownError } from '../../src/errors.js'
import { reconnectDelaySeconds } from '../../src/db/connect.js'

t.test('a server that is gone, stopping or starting is a connection error (503), a bad statement is not', async (t) => {
  // SQLSTATE: connection_exception class, admin_shutdown, crash_shutdown, cannot_connect_now.
  for (const code of ['08006', '08001', '57P01', '57P02', '57P03']) t.ok(isConnectionError({ code }), code)
  // postgres.js and Node socket codes.
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']) {
    t.ok(isConnectionError({ code }), code)
  }
  for (const code of ['23505', '42P01', '57014', '40001', undefined]) t.notOk(isConnectionError({ code }), String(code))
  t.notOk(isConnectionError(undefined))
})

t.test('the pool retries a lost server quickly, never waiting more than 0.25 s', async (t) => {
  const delays = Array.from({ length: 30 }, (_, retries) => reconnectDelaySeconds(retries))
  t.ok(
    delays.every((delay) => delay > 0 && delay <= 0.25),
    'between 0 and 0.25 s',
  )
  t.ok(
    delays.every((delay, i) => i === 0 || delay >= delays[i - 1]!),
    'never shorter after more failures',
  )
  t.equal(delays.at(-1), 0.25, 'capped')
})

t.test('a write without a key that lost its connection: unknown outcome, unless nothing was sent', async (t) => {
  const lost = (code: string) => toCoreError(Object.assign(new Error(`lost: ${code}`), { code }))
  for (const code of ['CONNECTION_CLOSED', 'ECONNRESET', '57P01', 'CONNECTION_DESTROYED']) {
    const failure = asWriteFailure(lost(code))
    t.ok(failure instanceof WriteOutcomeUnknownError, `${code}: may have been applied`)
    t.equal((failure as WriteOutcomeUnknownError).code, 'WRITE_OUTCOME_UNKNOWN')
    t.ok(failure instanceof DatabaseUnavailableError, 'still a DatabaseUnavailableError to whoever maps classes')
  }
  for (const code of ['ECONNREFUSED', 'CONNECT_TIMEOUT', '57P03']) {
    const failure = asWriteFailure(lost(code))
    t.notOk(failure instanceof WriteOutcomeUnknownError, `${code}: never connected, nothing sent`)
    t.equal((failure as DatabaseUnavailableError).code, 'DATABASE_UNAVAILABLE')
  }
  const refused = new DatabaseUnavailableError('database unreachable: the tenant connection failed to reconnect')
  t.equal(asWriteFailure(refused), refused, 'a query refused without being sent')
  const notFound = new NotFoundError('post not found')
  t.equal(asWriteFailure(notFound), notFound, 'other errors are themselves')
})
