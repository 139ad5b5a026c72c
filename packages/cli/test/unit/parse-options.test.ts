import t from 'tap'
import { formatSpan, parseDuration } from '../../src/durations.js'
import { durationOf, parseAuditAction, parseAuditLimit, parseConcurrency, parseScope } from '../../src/option-parsers.js'
import { UsageError } from '../../src/errors.js'

const DAY = 86_400_000

t.test('--expires-in takes durations with a unit', async (t) => {
  const parseExpiresIn = durationOf('--expires-in')
  t.equal(parseExpiresIn('30d'), 30 * DAY)
  t.equal(parseExpiresIn('12h'), 12 * 3_600_000)
  t.equal(parseExpiresIn('2w'), 14 * DAY)
  t.equal(parseExpiresIn(' 1y '), 365.25 * DAY)
  for (const bad of ['30', '', 'soon', '-5d', '0d', '30 fortnights', '1e9d', '3 days', '1.5h', '24H', '2000y']) {
    t.throws(() => parseExpiresIn(bad), UsageError, `refuses "${bad}"`)
  }
  t.throws(() => parseExpiresIn('soon'), { message: /^--expires-in: "soon" is not a duration/ })
})

t.test('durations: seconds, minutes, hours, days, weeks, years; 0 only where allowed', async (t) => {
  t.equal(parseDuration('--grace', '90s'), 90_000)
  t.equal(parseDuration('--grace', '15m'), 900_000)
  t.equal(parseDuration('--grace', '24h'), DAY)
  t.equal(parseDuration('--grace', '30d'), 30 * DAY)
  t.equal(parseDuration('--grace', '0', { allowZero: true }), 0)
  t.equal(parseDuration('--grace', '0s', { allowZero: true }), 0)
  t.throws(() => parseDuration('--grace', '0'), { message: /--grace: "0" is not a duration/ })
  t.throws(() => parseDuration('--grace', '-1h', { allowZero: true }), {
    message: /use a whole number and a unit: 90s, 15m, 24h, 30d, 2w or 1y \(or 0\)/,
  })
})

t.test('--scope is read or write', async (t) => {
  t.equal(parseScope('read'), 'read')
  t.equal(parseScope('write'), 'write')
  for (const bad of ['admin', 'READ', '', 'read,write'])
    t.throws(() => parseScope(bad), { message: /use read or write/ }, `refuses "${bad}"`)
})

t.test('spans read as the largest whole unit', async (t) => {
  t.equal(formatSpan(23 * 3_600_000 + 59 * 60_000), '23h')
  t.equal(formatSpan(45_000), '45s')
  t.equal(formatSpan(12 * 60_000), '12m')
  t.equal(formatSpan(29 * DAY + 1), '29d')
  t.equal(formatSpan(-5), '0s')
})

t.test('--concurrency is a whole number from 1 to 64', async (t) => {
  t.equal(parseConcurrency('1'), 1)
  t.equal(parseConcurrency('64'), 64)
  for (const bad of ['0', '65', '-1', '2.5', 'eight', '', '4x']) {
    t.throws(() => parseConcurrency(bad), UsageError, `refuses "${bad}"`)
  }
})

t.test('--action is an action the audit log records; --limit a whole number from 1 to 1000', async (t) => {
  t.equal(parseAuditAction('key.rotate'), 'key.rotate')
  for (const bad of ['key.steal', 'KEY.ROTATE', '']) t.throws(() => parseAuditAction(bad), UsageError, `refuses action "${bad}"`)
  t.equal(parseAuditLimit('1'), 1)
  t.equal(parseAuditLimit(' 1000 '), 1000)
  for (const bad of ['0', '1001', '-1', '2.5', 'ten', '', '1e3']) t.throws(() => parseAuditLimit(bad), UsageError, `refuses limit "${bad}"`)
})
