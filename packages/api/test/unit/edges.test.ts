import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { loggerOptions, REDACTED_PATHS } from '../../src/logger.js'

const srcDir = fileURLToPath(new URL('../../src', import.meta.url))

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : [path.join(dir, e.name)])))
  return nested.flat().filter((file) => file.endsWith('.ts'))
}

t.test('the api writes no SQL: no driver import, no tagged query', async (t) => {
  const files = await sourceFiles(srcDir)
  t.ok(files.length >= 10, 'sources found')
  for (const file of files) {
    const text = await readFile(file, 'utf8')
    const name = path.relative(srcDir, file)
    t.notMatch(text, /from ['"]postgres['"]/, `${name} does not import the driver`)
    t.notMatch(text, /\bsql\s*`|\.unsafe\(/, `${name} has no SQL`)
    t.notMatch(text, /\b(select|insert|update|delete)\s+.*\b(from|into|set)\b/i, `${name} has no SQL text`)
  }
})

t.test('logger options: redaction always, pretty only when asked and installed', async (t) => {
  const json = loggerOptions({ level: 'info' })
  t.same(json.redact, { paths: REDACTED_PATHS, censor: '[redacted]' })
  t.notOk('transport' in json, 'JSON lines when not a terminal')
  const pretty = loggerOptions({ level: 'debug', pretty: true }) as { transport?: { target: string }; level: string }
  t.match(pretty.transport?.target, /pino-pretty/, 'pino-pretty in a terminal')
  t.equal(pretty.level, 'debug')
  for (const secret of ['req.headers["api-key"]', 'req.headers.authorization', '*.password', '*.refresh_token', '*.access_token']) {
    t.ok(REDACTED_PATHS.includes(secret), `redacts ${secret}`)
  }
})
