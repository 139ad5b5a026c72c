#!/usr/bin/env node
// The verdict of a test run. Runs each step (a shell command, e.g. `pnpm test:packages`) one
// after the other, every one of them even when an earlier one fails, passes their output
// through, and ends with one line of totals over every tap run they printed:
//
//   N passed, N failed
//
// It exits 1 when a test failed or a step failed with no failed test to show for it (a type
// error before tap ran, a crash): such a step counts as one failure, named above the totals.
// The steps get a temporary folder of their own (TMPDIR); a `tenantbase-*` or `tb-*` entry a
// test leaves there counts as one failure too, and the folder is removed afterwards.
//
//   node scripts/run-tests.mjs 'pnpm test:packages' 'pnpm test:deploy'
//   node scripts/run-tests.mjs --sum FILE
//
// With TEST_TOTALS_FILE set, each run also appends one JSON line (the Node.js version, each
// step's counts) to that file; `--sum FILE` prints each recorded run and then the totals over
// all of them, as the last line. CI runs the suite on two Node.js versions and sums them so.
import { spawn } from 'node:child_process'
import { appendFile, chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

const usage = 'usage: run-tests.mjs <command> [<command>...] | run-tests.mjs --sum <file>'

/**
 * The counts of one tap run's closing line, `# { total: 12, pass: 11, fail: 1, skip: 2 }`, or
 * undefined. Only at the start of a line: a test's own output quoted in a report is indented.
 */
function tapTotals(line) {
  const match = /^# \{ (total: \d+[^}]*)\}/.exec(line)
  if (!match) return undefined
  const counts = Object.fromEntries([...match[1].matchAll(/(\w+):\s*(\d+)/g)].map(([, name, n]) => [name, Number(n)]))
  return { passed: counts.pass ?? 0, failed: counts.fail ?? 0 }
}

const verdict = ({ passed, failed }) => `${passed} passed, ${failed} failed`

function elapsed(ms) {
  const s = Math.round(ms / 1000)
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`
}

/** Runs one step, passing its output through and adding up the tap totals it prints. */
function runStep(command, env) {
  return new Promise((resolve) => {
    const counts = { passed: 0, failed: 0 }
    const child = spawn(command, { shell: true, env, stdio: ['inherit', 'pipe', 'inherit'] })
    const forward = (signal) => child.kill(signal)
    process.on('SIGINT', forward)
    process.on('SIGTERM', forward)
    let rest = ''
    const scan = (text) => {
      const lines = (rest + text).split('\n')
      rest = lines.pop()
      for (const line of lines) {
        const totals = tapTotals(line)
        if (totals) [counts.passed, counts.failed] = [counts.passed + totals.passed, counts.failed + totals.failed]
      }
    }
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk)
      scan(String(chunk))
    })
    child.on('close', (code, signal) => {
      process.off('SIGINT', forward)
      process.off('SIGTERM', forward)
      scan('\n')
      resolve({ command, ...counts, exit: code ?? signal })
    })
  })
}

async function run(commands) {
  // Open to every user as the system's one is: tests run PostgreSQL and PgBouncer as other users.
  const temporary = await mkdtemp(path.join(tmpdir(), 'tenantbase-tests-'))
  await chmod(temporary, 0o1777)
  const env = { ...process.env, TMPDIR: temporary }
  const steps = []
  for (const command of commands) {
    const started = Date.now()
    const step = await runStep(command, env)
    step.seconds = Math.round((Date.now() - started) / 1000)
    if (step.exit !== 0 && step.failed === 0) {
      step.failed = 1
      step.note = `exited with ${step.exit} before any test failed: counted as one failure`
    }
    const left = (await readdir(temporary)).filter((name) => /^(tenantbase|tb)-/.test(name))
    if (left.length > 0) {
      step.failed += 1
      step.note = [step.note, `left ${left.join(', ')} in the temporary folder: counted as one failure`].filter(Boolean).join('; ')
      await Promise.all(left.map((name) => rm(path.join(temporary, name), { recursive: true, force: true })))
    }
    steps.push(step)
  }
  await rm(temporary, { recursive: true, force: true })
  const total = { passed: 0, failed: 0 }
  console.log('')
  for (const step of steps) {
    total.passed += step.passed
    total.failed += step.failed
    console.log(`# ${step.command}: ${verdict(step)} (${elapsed(step.seconds * 1000)})${step.note ? `; ${step.note}` : ''}`)
  }
  if (total.passed + total.failed === 0) {
    // No tap total was read: nothing ran, or tap's closing line changed and this script no longer sees it.
    total.failed = 1
    console.log('# no test was counted: counted as one failure')
  }
  if (process.env.TEST_TOTALS_FILE) {
    const record = { node: process.version, ...total, steps }
    await appendFile(process.env.TEST_TOTALS_FILE, `${JSON.stringify(record)}\n`)
  }
  console.log(verdict(total))
  return total.failed === 0 ? 0 : 1
}

async function sum(file) {
  const runs = (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line))
  const total = { passed: 0, failed: 0 }
  for (const run of runs) {
    total.passed += run.passed
    total.failed += run.failed
    console.log(`# Node.js ${run.node}, ${run.steps.map((step) => step.command).join(' + ')}: ${verdict(run)}`)
  }
  console.log(verdict(total))
  return runs.length > 0 && total.failed === 0 ? 0 : 1
}

const args = process.argv.slice(2)
if (args.length === 0 || (args[0] === '--sum' && args.length !== 2)) {
  console.error(usage)
  process.exit(2)
}
process.exitCode = args[0] === '--sum' ? await sum(args[1]) : await run(args)
