/**
 * The test command's own promises: `pnpm test` ends with one line of totals
 * (scripts/run-tests.mjs), a failing step hides no later step's results, a run leaves nothing
 * in the temporary folder (scripts/with-test-db.mjs included), and the README names the
 * programs the tests need as CI installs them.
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = fileURLToPath(new URL('../../', import.meta.url))

/**
 * This environment without what the test runner adds, without a test database, and without
 * the file CI records its own runs in (the runs here fail on purpose: they are not CI's).
 */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || name === 'NODE_OPTIONS' || name === 'TEST_TOTALS_FILE' || /DATABASE_URL$/.test(name) || /^_?TAP/.test(name))
      continue
    env[name] = value
  }
  return { ...env, PATH: `${path.join(root, 'node_modules/.bin')}${path.delimiter}${process.env.PATH}`, ...extra }
}

/** Runs a script; its output is never put in an assertion's message, where its tap lines would be read as this run's. */
async function run(args: string[], options: { cwd: string; env: Record<string, string> }) {
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => (output += String(chunk)))
  child.stderr.on('data', (chunk) => (output += String(chunk)))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, output, last: output.trimEnd().split('\n').at(-1) }
}

/** Test files for a real tap, where it resolves (inside the repository's node_modules). */
async function fixtures(t: Test) {
  // A fresh clone's node_modules has no .cache until some tool makes one.
  await mkdir(path.join(root, 'node_modules/.cache'), { recursive: true })
  const dir = await mkdtemp(path.join(root, 'node_modules/.cache/run-tests-'))
  const temporary = await mkdtemp(path.join(tmpdir(), 'run-tests-tmp-'))
  t.teardown(() => Promise.all([rm(dir, { recursive: true, force: true }), rm(temporary, { recursive: true, force: true })]))
  await writeFile(path.join(dir, 'fails.test.mjs'), "import t from 'tap'\nt.pass('one')\nt.fail('two')\n")
  await writeFile(path.join(dir, 'passes.test.mjs'), "import t from 'tap'\nt.pass('three')\nt.pass('four')\n")
  await writeFile(
    path.join(dir, 'litters.test.mjs'),
    "import t from 'tap'\nimport { mkdtempSync } from 'node:fs'\nimport { tmpdir } from 'node:os'\n" +
      "mkdtempSync(tmpdir() + '/tenantbase-litter-')\nt.pass('five')\n",
  )
  return { dir, temporary }
}
type Test = Parameters<Parameters<typeof t.test>[1]>[0]

t.test('every step runs after a failing one; the last line totals them all; the exit code fails', async (t) => {
  const { dir, temporary } = await fixtures(t)
  const script = path.join(root, 'scripts/run-tests.mjs')
  const failing = await run([script, 'tap fails.test.mjs', 'exit 3', 'tap passes.test.mjs'], { cwd: dir, env: { TMPDIR: temporary } })
  t.equal(failing.code, 1, 'exit code')
  t.match(failing.output, /ok \d+ - three/, 'the step after the failures ran')
  t.match(failing.output, /# exit 3: 0 passed, 1 failed .*exited with 3 before any test failed/)
  t.equal(failing.last, '3 passed, 2 failed', 'one failed test and one failed step')

  const passing = await run([script, 'tap passes.test.mjs'], { cwd: dir, env: { TMPDIR: temporary } })
  t.equal(passing.code, 0, 'exit code')
  t.equal(passing.last, '2 passed, 0 failed')

  const silent = await run([script, 'true'], { cwd: dir, env: { TMPDIR: temporary } })
  t.equal(silent.code, 1, 'a run that counted no test is no pass')
  t.equal(silent.last, '0 passed, 1 failed')
  t.same(await readdir(temporary), [], 'no folder of its own left behind')
})

t.test('a folder a test leaves in the temporary folder is a failure, and is removed', async (t) => {
  const { dir, temporary } = await fixtures(t)
  const littered = await run([path.join(root, 'scripts/run-tests.mjs'), 'tap litters.test.mjs'], { cwd: dir, env: { TMPDIR: temporary } })
  t.equal(littered.code, 1, 'exit code')
  t.match(littered.output, /left tenantbase-litter-\w+ in the temporary folder/)
  t.equal(littered.last, '1 passed, 1 failed')
  t.same(await readdir(temporary), [])
})

t.test('runs recorded in TEST_TOTALS_FILE add up to one last line', async (t) => {
  const { dir, temporary } = await fixtures(t)
  const script = path.join(root, 'scripts/run-tests.mjs')
  const file = path.join(temporary, 'totals.jsonl')
  await run([script, 'tap passes.test.mjs'], { cwd: dir, env: { TMPDIR: temporary, TEST_TOTALS_FILE: file } })
  await run([script, 'tap fails.test.mjs'], { cwd: dir, env: { TMPDIR: temporary, TEST_TOTALS_FILE: file } })
  const summed = await run([script, '--sum', file], { cwd: dir, env: {} })
  t.equal(summed.code, 1, 'exit code')
  t.match(summed.output, `# Node.js ${process.version}, tap passes.test.mjs: 2 passed, 0 failed`)
  t.equal(summed.last, '3 passed, 1 failed')
})

t.test('with-test-db.mjs removes its embedded cluster and its folder', async (t) => {
  const temporary = await mkdtemp(path.join(tmpdir(), 'with-test-db-tmp-'))
  t.teardown(() => rm(temporary, { recursive: true, force: true }))
  const printUrl = 'console.log(process.env.TEST_DATABASE_URL)'
  const ran = await run([path.join(root, 'scripts/with-test-db.mjs'), process.execPath, '-e', printUrl], {
    cwd: root,
    env: { TMPDIR: temporary },
  })
  t.equal(ran.code, 0, 'exit code')
  t.ok(/^postgres:\/\/postgres:postgres@127\.0\.0\.1:\d+\/postgres$/m.test(ran.output), 'the command ran with a test database')
  t.same(await readdir(temporary), [], 'nothing left in the temporary folder')
})

t.test('the README names the programs the tests need as CI installs them', async (t) => {
  const ci = await readFile(path.join(root, '.ci/run'), 'utf8')
  const readme = await readFile(path.join(root, 'README.md'), 'utf8')
  const installed = /for tool in ([\w -]+); do/.exec(ci)?.[1]?.split(' ')
  const named = /apt-get install\s+([\w -]+)`/.exec(readme)?.[1]?.split(/\s+/)
  t.ok(installed && installed.length > 0, 'CI installs a list of programs')
  t.same(named, installed, 'the README asks for the same ones')
  for (const tool of installed ?? []) {
    const mentions = readme.match(new RegExp(`\\*\\*${tool}\\*\\*`, 'gi')) ?? []
    t.equal(mentions.length, 1, `the README describes ${tool} once`)
  }
})
