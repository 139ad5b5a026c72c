/**
 * What the stress tests share: free ports, real API and tenantctl processes, and a
 * PostgreSQL cluster of a test's own (the run's shared server must not be stopped).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startEmbeddedCluster, type EmbeddedCluster, type EmbeddedClusterOptions } from '@tenantbase/core'
import { freePort } from '@tenantbase/core/testing'

export const root = fileURLToPath(new URL('../../', import.meta.url))
export const CLI = path.join(root, 'packages/cli/dist/bin.js')
export const API = path.join(root, 'packages/api/dist/server.js')
export const JWT_SECRET = 'stress-test-secret-0123456789abcdef0123456789'

/** What every test's tap context offers that these helpers use. */
interface Teardown {
  teardown(fn: () => unknown): void
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface ApiProcess {
  readonly child: ChildProcess
  readonly base: string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly stdout: () => string
  readonly stderr: () => string
}

/** Starts `packages/api/dist/server.js` on a free loopback port and waits until /healthz answers. */
export async function startApi(t: Teardown, databaseUrl: string, env: Record<string, string> = {}): Promise<ApiProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, [API], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      JWT_SECRET,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      BCRYPT_COST: '10',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk) => (stdout += String(chunk)))
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)))
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the API exited with ${child.exitCode}: ${stderr}`)
    if (
      await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { child, base, exited, stdout: () => stdout, stderr: () => stderr }
    await sleep(50)
  }
  throw new Error(`the API did not come up on ${base}: ${stderr}`)
}

/** A user of one tenant, signed up over HTTP, with the headers of its requests. */
export interface SignedUpUser {
  /** The status of the registration (201 unless the email was taken). */
  readonly registered: number
  readonly token: string
  readonly headers: { 'api-key': string; authorization: string }
}

/** Registers and logs in `user` in the tenant of `key` through the API at `base`, then creates `posts` posts. */
export async function signUpWithPosts(
  base: string,
  key: string,
  user: { email: string; password: string },
  posts: { count: number; body: string },
): Promise<SignedUpUser> {
  const json = { 'api-key': key, 'content-type': 'application/json' }
  const registered = (await fetch(`${base}/api/users/register/`, { method: 'POST', headers: json, body: JSON.stringify(user) })).status
  const login = await fetch(`${base}/api/users/login/`, { method: 'POST', headers: json, body: JSON.stringify(user) })
  const token = ((await login.json()) as { access_token: string }).access_token
  const headers = { 'api-key': key, authorization: `Bearer ${token}` }
  for (let i = 0; i < posts.count; i++) {
    const body = JSON.stringify({ title: `post ${i}`, body: posts.body })
    await fetch(`${base}/api/posts/`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body })
  }
  return { registered, token, headers }
}

export interface OwnCluster {
  readonly url: string
  readonly dataDir: string
  /** Stops the server (fast shutdown); the data folder stays. */
  stop(): Promise<void>
  /** Starts it again on the same data folder and port. */
  start(): Promise<void>
}

/**
 * A PostgreSQL cluster of the test's own, in a temporary folder removed at teardown. It is
 * persistent so that it can be stopped and started again on the same data.
 */
export async function startOwnCluster(t: Teardown): Promise<OwnCluster> {
  const folder = await mkdtemp(path.join(tmpdir(), 'tenantbase-stress-'))
  const options: EmbeddedClusterOptions = {
    dataDir: path.join(folder, 'pg'),
    port: await freePort(),
    user: 'postgres',
    password: 'postgres',
    database: 'tenantbase',
    persistent: true,
  }
  let running: EmbeddedCluster | undefined = await startEmbeddedCluster(options)
  if (!running.startedHere) throw new Error(`port ${options.port} already had a server`)
  t.teardown(async () => {
    await running?.stop()
    await rm(folder, { recursive: true, force: true })
  })
  const url = running.url
  return {
    url,
    dataDir: options.dataDir,
    async stop() {
      const cluster = running
      running = undefined
      await cluster?.stop()
    },
    async start() {
      running = await startEmbeddedCluster(options)
    },
  }
}

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Spawns `tenantctl` (the built bin.js) against `databaseUrl`. */
export function spawnCli(
  args: readonly string[],
  databaseUrl: string,
): { child: ChildProcess; result: Promise<CliResult>; stdout: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, DATABASE_URL: databaseUrl, JWT_SECRET, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk) => (stdout += String(chunk)))
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)))
  const result = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    stdout,
    stderr,
  }))
  return { child, result, stdout: () => stdout }
}
