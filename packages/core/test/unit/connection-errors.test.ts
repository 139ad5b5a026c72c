import t from 'tap'
import { isConnectionError } from '../../src/db/pg-errors.js'
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
