import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { stopEmbeddedPostgres } from '@tenantbase/core'
import { freePort } from '@tenantbase/core/testing'
import { childEnv, parseJson, runCli } from '../helpers.js'

// The embedded PostgreSQL under .data/ left behind by a killed API: detected, said, adopted
// by the next process (which stops it when it ends) or stopped by `tenantctl embedded stop`.

// Seven cluster starts and four API servers: more than the default per-file time on a busy machine.
t.setTimeout(300_000)

const SERVER = fileURLToPath(new URL('../../../api/dist/server.js', import.meta.url))

interface Api {
  readonly child: ChildProcess
  output(): string
  readonly exited: Promise<number | null>
}

/** `node server.js` (what `pnpm start` runs) on the embedded cluster; resolves once it serves. */
async function startApi(t: Test, env: Record<string, string>): Promise<Api> {
  const child = spawn(process.execPath, [SERVER], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  t.teardown(() => void child.kill('SIGKILL'))
  const deadline = Date.now() + 60_000
  while (!output.includes('tenantbase API on')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      t.fail(`the API did not start:\n${output}`)
      throw new Error('no API')
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { child, output: () => output, exited }
}

async function killHard(api: Api): Promise<void> {
  api.child.kill('SIGKILL')
  await api.exited
}

interface State {
  running: boolean
  pid: number | null
  orphaned: boolean
  owner?: { pid: number; alive: boolean }
}

t.test('a cluster left by a killed API: status says so; the next process adopts it, or embedded stop stops it', async (t) => {
  const dataDir = path.join(t.testdir(), 'data')
  const env = {
    DATA_DIR: dataDir,
    EMBEDDED_PG_PORT: String(await freePort()),
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    DATABASE_URL: '',
    POSTGRES_HOST: '',
    LOG_LEVEL: 'info',
  }
  t.teardown(() => stopEmbeddedPostgres(path.join(dataDir, 'postgres')).catch(() => {}))
  const cli = (args: string[]) => runCli(args, { env, guardMs: 120_000 })
  const status = async () => parseJson<State>(t, await cli(['embedded', 'status', '--json']))

  t.equal((await cli(['migrate'])).code, 0, 'migrated (the cli starts the cluster and stops it)')
  t.match(await status(), { running: false, orphaned: false })
  t.match((await cli(['embedded', 'stop'])).stdout, /is not running: nothing to stop/)

  // An API that owns the cluster: stopping it under the API is refused without --force.
  const first = await startApi(t, env)
  t.match(await status(), { running: true, orphaned: false, owner: { pid: first.child.pid, alive: true } })
  const refused = await cli(['embedded', 'stop'])
  t.equal(refused.code, 1)
  t.match(refused.stderr, new RegExp(`for process ${first.child.pid}, which stops it when it ends: stop that process .* or pass --force`))

  // kill -9: the API cannot stop its cluster, which keeps running with no owner.
  await killHard(first)
  const left = await status()
  t.match(left, { running: true, orphaned: true, owner: { pid: first.child.pid, alive: false } })
  const said = await cli(['embedded', 'status'])
  t.match(said.stdout, /left behind: the process that started it \(pid \d+\) has ended\. Stop it with `tenantctl embedded stop`/)

  // The next tenantctl command adopts it, says so, and stops it when done.
  const listed = await cli(['list', '--json'])
  t.equal(listed.code, 0, listed.stderr)
  t.same(parseJson(t, listed), [], 'the command itself ran')
  t.match(
    listed.stderr,
    new RegExp(
      `note: the embedded PostgreSQL \\(pid ${left.pid}\\) was left running .*\\(pid ${first.child.pid}\\); this command adopted it and stops it when done`,
    ),
  )
  t.match(await status(), { running: false }, 'stopped by its adopter')

  // The next API adopts one too, says so, and Ctrl-C (SIGINT) stops it with the API.
  await killHard(await startApi(t, env))
  const orphan = await status()
  t.equal(orphan.orphaned, true)
  const adopter = await startApi(t, env)
  t.match(adopter.output(), new RegExp(`the embedded PostgreSQL \\(pid ${orphan.pid}\\) was left running .*this server adopted it`))
  t.match(await status(), { running: true, orphaned: false, owner: { pid: adopter.child.pid, alive: true } })
  adopter.child.kill('SIGINT')
  t.equal(await adopter.exited, 0, 'the API stops cleanly')
  t.match(await status(), { running: false }, 'and its adopted cluster with it')

  // Or it is stopped by hand.
  await killHard(await startApi(t, env))
  const stopped = await cli(['embedded', 'stop'])
  t.equal(stopped.code, 0, stopped.stderr)
  t.match(stopped.stdout, /Stopped the embedded PostgreSQL \(pid \d+\); its data stays/)
  t.match(await status(), { running: false })
  t.equal((await cli(['list'])).code, 0, 'the data is still there: the next command starts it again')
})

t.test('embedded stop with a server configured is a usage error', async (t) => {
  const result = await runCli(['embedded', 'stop'], { env: { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db' } })
  t.equal(result.code, 2)
  t.match(result.stderr, /DATABASE_URL \(or POSTGRES_HOST\) is set: tenantctl uses that server and runs no embedded PostgreSQL/)
})
