import { readFile } from 'node:fs/promises'
import Fastify from 'fastify'
import t from 'tap'
import * as core from '@tenantbase/core'
import errorHandler from '../../src/plugins/error-handler.js'
import { API_ERRORS } from '../../src/schemas/errors.js'

/** Core's README table: every error code with its class and the HTTP status it promises ('—': none, so 500; a row's own status over its class's). */
async function coreErrorTable(): Promise<{ className: string; status: number; code: string }[]> {
  const readme = await readFile(new URL('../../../core/README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('## Error codes'), readme.indexOf('\n## ', readme.indexOf('## Error codes') + 1))
  const rows: { className: string; status: number; code: string }[] = []
  let className = ''
  let status = 0
  const statusOf = (cell: string) => (cell === '—' ? 500 : Number(cell))
  for (const match of section.matchAll(/^\|\s*(?:`(\w+)`)?\s*\|\s*([\d—]*)\s*\|\s*`([A-Z][A-Z0-9_]+)`\s*\|/gm)) {
    if (match[1]) {
      className = match[1]
      status = statusOf(match[2]!)
    }
    // A row of a class that names a status of its own (the API's table decides by code).
    rows.push({ className, status: !match[1] && match[2] ? statusOf(match[2]) : status, code: match[3]! })
  }
  return rows
}

/** An error of core's class `className` carrying `code`, as core throws it. */
function coreError(className: string, code: string): core.CoreError {
  switch (className) {
    case 'CoreError':
      return new core.CoreError(code, 'a message')
    case 'ConfigError':
      return new core.ConfigError(['a problem'])
    case 'DatabaseUnavailableError':
      return new core.DatabaseUnavailableError('database unreachable')
    case 'RevocationsNotHeardError':
      return new core.RevocationsNotHeardError('not heard')
    default: {
      const Class = (core as unknown as Record<string, new (message: string, code: string) => core.CoreError>)[className]
      if (!Class) throw new Error(`core exports no ${className}`)
      return new Class('a message', code)
    }
  }
}

t.test("each core error code thrown in a route is answered with its table's status, and with the API table's", async (t) => {
  const rows = await coreErrorTable()
  t.ok(rows.length >= 50, `found ${rows.length} codes in core's table`)
  const app = Fastify()
  await app.register(errorHandler)
  app.get('/throw/:index', async (request) => {
    const row = rows[Number((request.params as { index: string }).index)]!
    throw coreError(row.className, row.code)
  })
  t.teardown(() => app.close())
  for (const [index, { className, status, code }] of rows.entries()) {
    const response = await app.inject({ method: 'GET', url: `/throw/${index}` })
    const body = response.json<{ statusCode: number; code: string }>()
    t.equal(response.statusCode, status, `${code} (${className}) answers ${status}`)
    if (status < 500) t.equal(body.code, code, `${code}: its code is sent`)
    const listed = (API_ERRORS as Record<string, { status: number }>)[code]
    if (listed) t.equal(listed.status, status, `${code}: the API's table gives the same status`)
  }
})
