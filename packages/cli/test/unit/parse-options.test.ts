import t from 'tap'
import { parseExpiresIn } from '../../src/commands/keys-create.js'
import { DEFAULT_CONCURRENCY, parseConcurrency } from '../../src/commands/migrate.js'
import { UsageError } from '../../src/errors.js'

const DAY = 86_400_000

t.test('--expires-in takes durations with a unit', async (t) => {
  const now = Date.UTC(2026, 0, 1)
  t.equal(parseExpiresIn('30d', now).getTime(), now + 30 * DAY)
  t.equal(parseExpiresIn('12h', now).getTime(), now + 12 * 3_600_000)
  t.equal(parseExpiresIn('2w', now).getTime(), now + 14 * DAY)
  t.equal(parseExpiresIn(' 1y ', now).getTime(), now + 365.25 * DAY)
  for (const bad of ['30', '', 'soon', '-5d', '0d', '30 fortnights', '1e9d']) {
    t.throws(() => parseExpiresIn(bad, now), UsageError, `refuses "${bad}"`)
  }
})

t.test('--concurrency is a whole number from 1 to 64', async (t) => {
  t.equal(parseConcurrency(undefined), DEFAULT_CONCURRENCY)
  t.equal(parseConcurrency('1'), 1)
  t.equal(parseConcurrency('64'), 64)
  for (const bad of ['0', '65', '-1', '2.5', 'eight', '', '4x']) {
    t.throws(() => parseConcurrency(bad), UsageError, `refuses "${bad}"`)
  }
})
