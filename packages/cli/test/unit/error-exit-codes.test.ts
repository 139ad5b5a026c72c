import { readFile } from 'node:fs/promises'
import t from 'tap'
import * as core from '@tenantbase/core'
import { exitCodeFor } from '../../src/errors.js'

/** Core's README table: every error code with its class. */
async function coreErrorTable(): Promise<{ className: string; code: string }[]> {
  const readme = await readFile(new URL('../../../core/README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('## Error codes'), readme.indexOf('\n## ', readme.indexOf('## Error codes') + 1))
  const rows: { className: string; code: string }[] = []
  let className = ''
  for (const match of section.matchAll(/^\|\s*(?:`(\w+)`)?\s*\|\s*[\d—]*\s*\|\s*`([A-Z][A-Z0-9_]+)`\s*\|/gm)) {
    if (match[1]) className = match[1]
    rows.push({ className, code: match[2]! })
  }
  return rows
}

function coreError(className: string, code: string): core.CoreError {
  if (className === 'CoreError') return new core.CoreError(code, 'a message')
  if (className === 'ConfigError') return new core.ConfigError(['a problem'])
  if (className === 'DatabaseUnavailableError') return new core.DatabaseUnavailableError('database unreachable')
  if (className === 'RevocationsNotHeardError') return new core.RevocationsNotHeardError('not heard')
  // The base class takes its code first (its subclasses take the message first).
  if (className === 'CoreError') return new core.CoreError(code, 'a message')
  const Class = (core as unknown as Record<string, new (message: string, code: string) => core.CoreError>)[className]
  if (!Class) throw new Error(`core exports no ${className}`)
  return new Class('a message', code)
}

// The README's exit codes: 2 for usage or invalid input (a validation, the configuration), 1 for any other failure.
const USAGE_CLASSES = new Set(['ValidationError', 'ConfigError'])

t.test("each core error code thrown gives the cli's exit code, and its code under --json", async (t) => {
  const rows = await coreErrorTable()
  t.ok(rows.length >= 50, `found ${rows.length} codes in core's table`)
  for (const { className, code } of rows) {
    const error = coreError(className, code)
    t.equal(error.code, code, `${code} is thrown with its code`)
    const report = exitCodeFor(error, core)
    t.equal(report.exitCode, USAGE_CLASSES.has(className) ? 2 : 1, `${code} (${className}) exits ${report.exitCode}`)
    t.equal(report.json?.error.code, code, `${code}: --json names it`)
    t.notOk(report.unexpected, `${code}: anticipated`)
  }
})
