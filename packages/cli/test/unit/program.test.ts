import t from 'tap'
import { runCli } from '../helpers.js'

// These runs need no database: usage is checked before anything is opened.

t.test('--help lists every command and exits 0', async (t) => {
  const result = await runCli(['--help'])
  t.equal(result.code, 0)
  for (const command of ['create', 'list', 'show', 'keys', 'migrate', 'status', 'suspend', 'resume', 'audit', 'delete', 'doctor']) {
    t.match(result.stdout, new RegExp(`\\n  ${command}\\b`), command)
  }
  t.match(result.stdout, /Examples:/)
})

t.test('`tenantctl help <command>` is help too, exit 0', async (t) => {
  const result = await runCli(['help', 'migrate'])
  t.equal(result.code, 0)
  t.match(result.stdout, /Usage: tenantctl migrate/)
})

t.test('each command has --help with examples and the global options', async (t) => {
  for (const command of [
    ['create'],
    ['list'],
    ['show'],
    ['keys', 'create'],
    ['keys', 'list'],
    ['keys', 'revoke'],
    ['keys', 'rotate'],
    ['suspend'],
    ['resume'],
    ['audit'],
    ['migrate'],
    ['status'],
    ['delete'],
    ['doctor'],
  ]) {
    const result = await runCli([...command, '--help'])
    t.equal(result.code, 0, `${command.join(' ')} --help`)
    t.match(result.stdout, /Examples:\n {2}\$ tenantctl /, `${command.join(' ')} has examples`)
    t.match(result.stdout, /--json/, `${command.join(' ')} shows --json`)
  }
})

t.test('usage errors exit 2 with a message and no stack trace', async (t) => {
  const cases = [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['list', '--frobnicate'], /unknown option '--frobnicate'/],
    [['show'], /missing required argument 'schema'/],
    [['keys'], /Usage: tenantctl keys/],
    [['migrate', '--concurrency', 'many'], /--concurrency must be a whole number/],
    [['migrate', '--concurrency'], /argument missing/],
    [
      ['keys', 'create', 'acme', '--expires-in', 'soon'],
      /--expires-in: "soon" is not a duration; use a whole number and a unit: 90s, 15m, 24h, 30d, 2w or 1y/,
    ],
    [['keys', 'create', 'acme', '--scope', 'admin'], /--scope: "admin" is not a scope; use read or write/],
    [
      ['keys', 'rotate', 'tb_0123456789ab', '--grace', '3 days'],
      /--grace: "3 days" is not a duration; use .*90s, 15m, 24h, 30d.* \(or 0\)/,
    ],
    [['keys', 'rotate', 'tb_0123456789ab', '--grace', '-1h'], /--grace: "-1h" is not a duration/],
    [['keys', 'rotate'], /missing required argument 'key'/],
    [['suspend'], /missing required argument 'schema'/],
    [['audit', '--since', '7 days'], /--since: "7 days" is not a duration/],
    [['audit', '--action', 'key.steal'], /--action: "key.steal" is not an action; use one of tenant.create, .*migrate/],
    [['audit', '--limit', '0'], /--limit: "0" is not a whole number from 1 to 1000/],
    [['create', '--name', 'A', '--address', '', '--schema', 'Not Valid'], /--schema: schema name must start with a lowercase letter/],
    [[], /Usage: tenantctl/],
  ] as const
  for (const [args, message] of cases) {
    const result = await runCli(args)
    t.equal(result.code, 2, `tenantctl ${args.join(' ')} exits 2`)
    t.match(result.stderr, message, `tenantctl ${args.join(' ')} says why`)
    t.notMatch(result.stderr, /\n\s+at /, 'no stack trace')
  }
})
