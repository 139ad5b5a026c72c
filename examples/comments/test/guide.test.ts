import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import t from 'tap'

// docs/extending.md quotes this example: every block it names by file is in that file, as is.

const root = fileURLToPath(new URL('../../../', import.meta.url))

t.test('every quoted block is in the file it names', async (t) => {
  const guide = await readFile(`${root}docs/extending.md`, 'utf8')
  const quotes = [...guide.matchAll(/```\w+\n\/\/ (examples\/comments\/\S+|packages\/\S+)\n([\s\S]*?)```/g)]
  const sqlQuotes = [...guide.matchAll(/```sql\n-- (examples\/comments\/\S+)\n([\s\S]*?)```/g)]
  t.ok(quotes.length + sqlQuotes.length >= 4, `the guide quotes the example (${quotes.length + sqlQuotes.length} blocks)`)
  for (const [, file, text] of [...quotes, ...sqlQuotes]) {
    const source = await readFile(`${root}${file}`, 'utf8')
    t.ok(source.includes(text!), `${file} holds the block quoted from it`)
  }
})
