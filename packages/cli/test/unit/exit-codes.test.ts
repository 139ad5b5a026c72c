import t from 'tap'
import { CommanderError } from 'commander'
import * as core from '@tenantbase/core'
import { CancelledError, CommandFailedError, InterruptedError, UsageError, exitCodeFor, isOwnError } from '../../src/errors.js'

t.test('usage and invalid input exit 2', async (t) => {
  t.equal(exitCodeFor(new UsageError('missing --name'), core).exitCode, 2)
  t.equal(exitCodeFor(new core.ValidationError('bad schema'), core).exitCode, 2)
  t.equal(exitCodeFor(new core.ConfigError(['JWT_SECRET is required']), core).exitCode, 2)
  const commander = new CommanderError(1, 'commander.unknownCommand', "error: unknown command 'x'")
  t.same(
    exitCodeFor(commander),
    { exitCode: 2, message: undefined, json: { error: { code: 'USAGE', message: "unknown command 'x'" } }, unexpected: false },
    'commander printed it already; --json gets a document',
  )
})

t.test('help and version exit 0', async (t) => {
  t.equal(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')).exitCode, 0)
  t.equal(exitCodeFor(new CommanderError(0, 'commander.version', '0.1.0')).exitCode, 0)
  t.equal(exitCodeFor(new CommanderError(0, 'commander.help', '(outputHelp)')).exitCode, 0, '`tenantctl help create`')
  t.equal(
    exitCodeFor(new CommanderError(1, 'commander.help', '(outputHelp)')).exitCode,
    2,
    'help shown for a missing subcommand is a usage error',
  )
})

t.test('failures exit 1, interrupts 130', async (t) => {
  t.equal(exitCodeFor(new core.NotFoundError('no tenant with schema x'), core).exitCode, 1)
  t.equal(exitCodeFor(new core.ConflictError('schema taken'), core).exitCode, 1)
  t.equal(exitCodeFor(new core.MigrationError('0003 failed'), core).exitCode, 1)
  t.equal(exitCodeFor(new core.DatabaseUnavailableError('cannot reach PostgreSQL'), core).exitCode, 1)
  t.equal(exitCodeFor(new CommandFailedError('2 tenants failed'), core).exitCode, 1)
  t.equal(exitCodeFor(new CancelledError('nothing was created'), core).exitCode, 1)
  t.equal(exitCodeFor(new InterruptedError(), core).exitCode, 130)
})

t.test('an unexpected error is one line that says so', async (t) => {
  const report = exitCodeFor(new TypeError('x is not a function'), core)
  t.equal(report.exitCode, 1)
  t.equal(report.unexpected, true)
  t.equal(report.message, 'unexpected error: x is not a function')
  t.equal(exitCodeFor(new core.ValidationError('bad'), core).unexpected, false)
})

t.test('cli and commander errors are classified without core', async (t) => {
  t.ok(isOwnError(new UsageError('x')))
  t.ok(isOwnError(new CommanderError(1, 'commander.unknownOption', 'x')))
  t.notOk(isOwnError(new core.ValidationError('x')))
  // Without core's classes a core error still fails, as 1: never 0.
  t.equal(exitCodeFor(new core.ValidationError('x')).exitCode, 1)
})
