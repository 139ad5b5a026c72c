import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const packageDir = fileURLToPath(new URL('../../', import.meta.url))

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.join(e.parentPath ?? e.path, e.name))
}

t.test('every error code thrown in core is documented in its README', async (t) => {
  const readme = await readFile(path.join(packageDir, 'README.md'), 'utf8')
  const codes = new Set<string>()
  for (const file of await sourceFiles(path.join(packageDir, 'src'))) {
    const text = await readFile(file, 'utf8')
    // Codes appear as string arguments of error constructors and as default codes (looked for
    // within 400 characters of the constructor: without semicolons nothing else ends a call).
    for (const match of text.matchAll(/(?:new \w*Error\([^;]{0,400}?|code = )'([A-Z][A-Z_]{3,})'/gs)) codes.add(match[1]!)
  }
  t.ok(codes.size >= 20, `found ${codes.size} codes`)
  // A row of the table, not a mention anywhere in the prose.
  const section = readme.slice(readme.indexOf('## Error codes'), readme.indexOf('\n## ', readme.indexOf('## Error codes') + 1))
  const rows = new Set([...section.matchAll(/^\|[^|\n]*\|[^|\n]*\|\s*`([A-Z][A-Z0-9_]+)`\s*\|/gm)].map((match) => match[1]!))
  for (const code of codes) t.ok(rows.has(code), `${code} is a row of the README's error table`)
})
