import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { API_ERRORS } from '../../src/schemas/errors.js'

const packageDir = fileURLToPath(new URL('../../', import.meta.url))

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.join(e.parentPath ?? e.path, e.name))
}

/** The `| status | `CODE` | when |` rows of a README's error table. */
function tableRows(readme: string, heading: string): Map<string, number> {
  const section = readme.slice(readme.indexOf(heading), readme.indexOf('\n## ', readme.indexOf(heading) + heading.length))
  const rows = new Map<string, number>()
  for (const match of section.matchAll(/^\| (\d{3}) \| `([A-Z][A-Z0-9_]+)` \|/gm)) rows.set(match[2]!, Number(match[1]))
  return rows
}

t.test("the api README's error table is the API's table of codes, status for status", async (t) => {
  const rows = tableRows(await readFile(path.join(packageDir, 'README.md'), 'utf8'), '## Errors')
  t.ok(rows.size >= 20, `found ${rows.size} rows`)
  const table = new Map(Object.entries(API_ERRORS).map(([code, { status }]) => [code, status]))
  for (const [code, status] of rows)
    t.equal(table.get(code), status, `${code} (README: ${status}) is in src/schemas/errors.ts with that status`)
  for (const [code, status] of table) t.equal(rows.get(code), status, `${code} (${status}) is in the README`)
})

t.test('every code the api sends is in its table, and every code of the table is sent by the api or core', async (t) => {
  const table = new Set(Object.keys(API_ERRORS))
  const sent = new Set<string>()
  for (const file of await sourceFiles(path.join(packageDir, 'src'))) {
    if (file.endsWith(path.join('schemas', 'errors.ts'))) continue
    const text = await readFile(file, 'utf8')
    // Every quoted UPPER_SNAKE string: error codes, given to an error or to errorBody/body.
    for (const match of text.matchAll(/'([A-Z][A-Z0-9]*_[A-Z0-9_]+)'/g)) sent.add(match[1]!)
  }
  t.ok(sent.size >= 15, `found ${sent.size} codes in the api's sources`)
  for (const code of sent) t.ok(table.has(code), `${code} is in src/schemas/errors.ts`)
  // Core's codes reach clients through the error handler: they are in core's README table.
  const coreReadme = await readFile(path.join(packageDir, '..', 'core', 'README.md'), 'utf8')
  for (const code of table) {
    t.ok(sent.has(code) || coreReadme.includes(`\`${code}\``), `${code} is sent by the api or is one of core's codes`)
  }
})
