import { spawn } from 'node:child_process'
import t from 'tap'
import { createOutput, formatTable } from '../../src/output.js'
import { captureStream } from '../helpers.js'

const ANSI = /\u001b\[/

t.test('colour only in a terminal and never under NO_COLOR', async (t) => {
  for (const [isTTY, env, coloured] of [
    [true, {}, true],
    [true, { NO_COLOR: '1' }, false],
    [false, {}, false],
  ] as const) {
    const stdout = captureStream(isTTY)
    const output = createOutput({ stdout, stderr: captureStream(isTTY), env, json: false })
    output.line(output.style.green('ok'))
    output.table(['A', 'B'], [['1', '2']])
    t.equal(ANSI.test(stdout.text()), coloured, `tty=${isTTY} env=${JSON.stringify(env)}`)
  }
})

t.test('--json: stdout holds only the JSON document, notes and progress go to stderr', async (t) => {
  const stdout = captureStream()
  const stderr = captureStream()
  const output = createOutput({ stdout, stderr, env: {}, json: true })
  output.note('shared schema: up to date')
  const progress = output.progress('migrating')
  progress.start(1)
  progress.itemDone({ schema: 'acme', ok: true, from: 'core 1', to: 'core 2', ms: 3 }, { done: 1, failed: 0, total: 1 })
  progress.stop()
  output.writeJson({ ok: true })
  t.same(JSON.parse(stdout.text()), { ok: true })
  t.match(stderr.text(), /shared schema: up to date/)
  t.match(stderr.text(), /\[1\/1\] acme ok core 1 -> core 2/)
})

t.test('without a terminal, progress is one line per item naming failures', async (t) => {
  const stdout = captureStream()
  const output = createOutput({ stdout, stderr: captureStream(), env: {}, json: false })
  const progress = output.progress('migrating')
  progress.start(2)
  progress.itemDone({ schema: 'a', ok: true, from: 'core 2', to: 'core 3', ms: 5 }, { done: 1, failed: 0, total: 2 })
  progress.itemDone({ schema: 'b', ok: false, from: 'core 2', to: 'core 2', error: 'relation exists', ms: 5 }, { done: 2, failed: 1, total: 2 })
  progress.stop()
  const lines = stdout.text().trim().split('\n')
  t.equal(lines.length, 2)
  t.match(lines[1], /^\[2\/2\] b FAILED relation exists$/)
})

t.test('tables align columns as displayed, colour codes and wide characters included', async (t) => {
  const table = formatTable(
    ['NAME', 'SCHEMA', 'KEYS'],
    [
      ['Ācme 東京', 'acme', '1'],
      ['\u001b[1mB\u001b[22m', 'b', '12'],
    ],
  )
  t.equal(table, ['NAME       SCHEMA  KEYS', 'Ācme 東京  acme    1', '\u001b[1mB\u001b[22m          b       12'].join('\n'))
})

t.test('flushed: output larger than a pipe holds reaches a slow reader before the process exits', async (t) => {
  const size = 3_000_000
  const output = new URL('../../dist/output.js', import.meta.url).href
  // A process that writes more than the pipe and its reader can take at once, then exits.
  const script = `const { flushed } = await import(${JSON.stringify(output)});
    process.stdout.write('x'.repeat(${size}));
    await flushed([process.stdout]);
    process.exit(0)`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  child.stdout.pause()
  let received = 0
  child.stdout.on('data', (chunk: Buffer) => (received += chunk.length))
  setTimeout(() => child.stdout.resume(), 500)
  const code = await new Promise((resolve) => child.on('close', resolve))
  t.equal(code, 0)
  t.equal(received, size, 'every byte arrived')
})
