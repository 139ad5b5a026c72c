/**
 * The README's own commands, from the repository root, as a new user types them:
 * `pnpm tenantctl ... --json` piped to a JSON parser, and `pnpm start` stopped with Ctrl-C
 * in a real terminal (tmux) and with SIGTERM.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createServices } from '@tenantbase/core'
import { createTestDatabase, freePort } from '@tenantbase/core/testing'
import { childEnv } from '../../packages/cli/test/helpers.ts'
import { openTerminal } from '../../packages/cli/test/tmux.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const JWT_SECRET = 'root-commands-secret-0123456789abcdef0123'

/** Runs `pnpm args` in the repository root without a terminal. */
async function pnpm(args: string[], env: Record<string, string>) {
  const child = spawn('pnpm', args, { cwd: root, env: childEnv({ JWT_SECRET, ...env }), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const [code] = (await once(child, 'close')) as [number | null]
  return { code, stdout, stderr }
}

t.test('`pnpm tenantctl <command> --json` is pure JSON on stdout, also when the command fails', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  await (await createServices({ sql: db.sql })).migrateAll()
  const env = { DATABASE_URL: db.url }

  const parse = "let s='';process.stdin.on('data',(d)=>(s+=d)).on('end',()=>console.log('parsed:'+JSON.stringify(JSON.parse(s))))"
  const piped = await pnpm(['exec', 'sh', '-c', `pnpm tenantctl list --json | node -e "${parse}"`], env)
  t.equal(piped.code, 0, piped.stderr)
  t.equal(piped.stdout, 'parsed:[]\n', 'the pipe into a JSON parser works')

  const failed = await pnpm(['tenantctl', 'show', 'no_such_tenant', '--json'], env)
  t.equal(failed.code, 1, 'the exit code comes through pnpm')
  t.same(
    JSON.parse(failed.stdout),
    { error: { code: 'TENANT_NOT_FOUND', message: 'no tenant with schema no_such_tenant' } },
    'stdout is the error document alone',
  )
  t.notMatch(failed.stdout + failed.stderr, /ELIFECYCLE|ERR_PNPM|> tenantbase@/, 'no pnpm banner or failure notice')
})

t.test('`pnpm start`: Ctrl-C and SIGTERM stop it cleanly, exit 0, last line "stopped"', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const env = { DATABASE_URL: db.url, JWT_SECRET, HOST: '127.0.0.1', PORT: String(await freePort()), LOG_LEVEL: 'info' }

  // A real terminal: Ctrl-C reaches pnpm, the shell and the API at once, as at a keyboard.
  // The window's own shell ignores it (`trap :`) only so that it can print the exit code.
  const term = await openTerminal(t, `cd ${root} && trap : INT; pnpm start`, { ...env })
  await term.waitFor(/tenantbase API on/, 'the API started (migrated first)')
  t.match(await term.screen(), /Create a tenant and its api key with `pnpm tenantctl create`/, 'the first-tenant hint while there is none')
  await term.press('C-c')
  await term.waitFor(/\[exit:\d+\]/, 'the end of pnpm start')
  const screen = await term.screen()
  t.match(screen, /\[exit:0\]/, `exit 0; the terminal:\n${screen}`)
  t.match(screen, /INFO: stopped[\s\S]*\[exit:0\]/, 'the last log line says stopped')
  t.notMatch(screen, /ELIFECYCLE|Command failed/, 'pnpm reports no failure')

  const services = await createServices({ sql: db.sql })
  await services.tenants.createTenant({ name: 'Started', schemaName: 'started' })
  const child = spawn('pnpm', ['start'], { cwd: root, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const exited = once(child, 'close')
  const guard = setTimeout(() => child.kill('SIGKILL'), 120_000)
  while (!/tenantbase API on/.test(output) && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 100))
  t.notMatch(output, /pnpm tenantctl create/, 'no first-tenant hint once there is a tenant')
  child.kill('SIGTERM')
  const [code] = (await exited) as [number | null]
  clearTimeout(guard)
  t.equal(code, 0, `exit 0 after SIGTERM to pnpm:\n${output}`)
  const lastLine = JSON.parse(output.trim().split('\n').at(-1)!) as { msg: string }
  t.equal(lastLine.msg, 'stopped')
  t.notMatch(output, /ELIFECYCLE/)
})
