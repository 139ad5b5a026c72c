/**
 * The benchmarks' servers (bench/api-servers.mjs), each in a process of its own, and their
 * ending. One place for both, so every bench starts and stops them alike.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'

export interface ServerProcess {
  readonly child: ChildProcess
  readonly url: string
}

const started: ChildProcess[] = []

/**
 * Starts one server of api-servers.mjs (`hello`, `fixed`, `shared-table` or `api`) and waits
 * for its port. With BENCH_CPU_PROF_DIR set, each server writes a V8 CPU profile into its mode's folder there
 * when it ends (node's --cpu-prof, which NODE_OPTIONS does not take).
 */
export async function startServerProcess(mode: string, args: string[], env: NodeJS.ProcessEnv): Promise<ServerProcess> {
  const profileDir = process.env.BENCH_CPU_PROF_DIR
  const profiling = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, mode)}`] : []
  const child = spawn(process.execPath, [...profiling, path.join(import.meta.dirname, 'api-servers.mjs'), mode, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  started.push(child)
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk) => {
      out += String(chunk)
      const match = /listening (\d+)/.exec(out)
      if (match) resolve(Number(match[1]))
    })
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)))
  })
  return { child, url: `http://127.0.0.1:${port}` }
}

/** Ends one server and waits until it has exited. */
export async function stopServerProcess(server: ServerProcess): Promise<void> {
  if (server.child.exitCode !== null) return
  server.child.kill('SIGTERM')
  await new Promise((resolve) => server.child.once('exit', resolve))
}

/** Ends every server started here and waits until each has exited. */
export async function stopServerProcesses(): Promise<void> {
  for (const child of started) child.kill('SIGTERM')
  await Promise.all(
    started.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))),
  )
}
