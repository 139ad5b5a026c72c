import { readFileSync } from 'node:fs'
import t from 'tap'
import type { CommandUnknownOpts } from '@commander-js/extra-typings'
import { API_KEY_SCOPES as CORE_SCOPES, AUDIT_ACTIONS as CORE_ACTIONS, MAX_AUDIT_LIMIT as CORE_MAX_LIMIT } from '@tenantbase/core'
import { buildProgram } from '../../src/program.js'
import { UsageError } from '../../src/errors.js'
import { API_KEY_SCOPES, AUDIT_ACTIONS, MAX_AUDIT_LIMIT } from '../../src/option-parsers.js'
import { runCli } from '../helpers.js'

// The command table's options parse their values as commander reads them: a command's
// runner gets numbers and known words, and a bad value fails before any command runs.
// These tests parse options only (`parseOptions`): no action runs, no database is opened.

function commandAt(...names: string[]): CommandUnknownOpts {
  let command: CommandUnknownOpts = buildProgram({ env: {}, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr })
  for (const name of names) {
    const next = command.commands.find((c) => c.name() === name)
    if (!next) throw new Error(`no command ${names.join(' ')}`)
    command = next
  }
  return command
}

t.test('options hand their command parsed values', async (t) => {
  const migrate = commandAt('migrate')
  migrate.parseOptions(['--concurrency', '8', '--schema', 'acme', 'globex'])
  t.same(migrate.opts(), { concurrency: 8, schema: ['acme', 'globex'] })

  const keysCreate = commandAt('keys', 'create')
  keysCreate.parseOptions(['--expires-in', '2h', '--scope', 'read'])
  t.same(keysCreate.opts(), { expiresIn: 7_200_000, scope: 'read' })

  const keysCreateDefault = commandAt('keys', 'create')
  keysCreateDefault.parseOptions([])
  t.same(keysCreateDefault.opts(), { scope: 'write' }, 'a key is a write key unless --scope says otherwise')

  const rotate = commandAt('keys', 'rotate')
  rotate.parseOptions(['--grace', '0'])
  t.same(rotate.opts(), { grace: 0 })

  const audit = commandAt('audit')
  audit.parseOptions(['--since', '15m', '--limit', '7', '--action', 'key.revoke'])
  t.same(audit.opts(), { since: 900_000, limit: 7, action: 'key.revoke' })
})

t.test("a bad value is the option's own usage error, raised while the flags are read", async (t) => {
  const cases = [
    [['migrate'], ['--concurrency', '0'], /--concurrency must be a whole number from 1 to 64, not "0"/],
    [['keys', 'create'], ['--expires-in', '30'], /--expires-in: "30" is not a duration/],
    [['keys', 'create'], ['--scope', 'admin'], /--scope: "admin" is not a scope/],
    [['keys', 'rotate'], ['--grace', 'soon'], /--grace: "soon" is not a duration/],
    [['audit'], ['--since', '0'], /--since: "0" is not a duration/],
    [['audit'], ['--limit', '1001'], /--limit: "1001" is not a whole number from 1 to 1000/],
    [['audit'], ['--action', 'tenant.steal'], /--action: "tenant.steal" is not an action/],
  ] as const
  for (const [names, argv, message] of cases) {
    const command = commandAt(...names)
    t.throws(() => command.parseOptions([...argv]), UsageError, `${names.join(' ')} ${argv.join(' ')}`)
    t.throws(() => commandAt(...names).parseOptions([...argv]), { message })
  }
})

t.test("the cli's copies of core's lists are core's", async (t) => {
  t.same(API_KEY_SCOPES, CORE_SCOPES)
  t.same(AUDIT_ACTIONS, CORE_ACTIONS)
  t.equal(MAX_AUDIT_LIMIT, CORE_MAX_LIMIT)
})

t.test("--version prints the cli package's version, exit 0", async (t) => {
  const manifest: { version?: unknown } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  const version = String(manifest.version)
  t.match(version, /^\d+\.\d+\.\d+/)
  for (const flag of ['--version', '-V']) {
    const result = await runCli([flag])
    t.equal(result.code, 0, flag)
    t.equal(result.stdout, `${version}\n`, flag)
    t.equal(result.stderr, '', flag)
  }
})
