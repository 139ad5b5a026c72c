import { readFile, writeFile } from 'node:fs/promises'
import { cpus, loadavg, totalmem } from 'node:os'

// With `--write-docs`, a bench writes its result tables into docs/benchmarks.md (or another
// page of docs/), replacing its own section there (between `<!-- bench:NAME -->` and
// `<!-- /bench:NAME -->`) and nothing else, each run headed by its machine, date and command.
// Figures live there and in the bench's output, never in code comments or the README.

/** The option each bench's parseArgs takes. */
export const WRITE_DOCS_OPTION = { 'write-docs': { type: 'boolean', default: false } } as const

/** The command that ran this bench, as a reader would type it again (a database URL shown as `URL`: it may hold a password). */
export function benchCommand(name: string): string {
  const args: string[] = []
  const given = process.argv.slice(2)
  for (let i = 0; i < given.length; i++) {
    const arg = given[i]!
    if (arg === '--write-docs') continue
    if (arg === '--citus') {
      args.push(arg, 'URL')
      i++
    } else args.push(arg.startsWith('--citus=') ? '--citus=URL' : arg)
  }
  return ['pnpm', `bench:${name}`, ...args].join(' ')
}

/** One line saying where and when: machine, date, Node.js, load average, command. */
export function provenance(name: string, extra = ''): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
  const memoryGiB = Math.round(totalmem() / 2 ** 30)
  const load = loadavg()
    .map((n) => n.toFixed(1))
    .join(' ')
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ')
  return (
    `\`${benchCommand(name)}\`, ${date} UTC; ${cpus().length} cores (${cpu}), ${memoryGiB} GiB; Node.js ${process.version}; ` +
    `load average at the end ${load}${extra ? `; ${extra}` : ''}`
  )
}

/**
 * Replaces section `section` (by default the bench's name) of docs/`page` with `markdown`,
 * headed by the run's provenance. Throws if the page has no such section: a section is added
 * by hand, once.
 */
export async function writeDocsSection(
  name: string,
  markdown: string,
  extra = '',
  { page = 'benchmarks.md', section = name }: { page?: string; section?: string } = {},
): Promise<void> {
  const docs = new URL(`../docs/${page}`, import.meta.url)
  const start = `<!-- bench:${section} -->`
  const end = `<!-- /bench:${section} -->`
  const text = await readFile(docs, 'utf8')
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from < 0 || to < from) throw new Error(`docs/${page} has no section ${start} ... ${end}`)
  const written = `${start}\nLast written by the bench itself: ${provenance(name, extra)}.\n\n${markdown.trim()}\n${end}`
  await writeFile(docs, text.slice(0, from) + written + text.slice(to + end.length))
  console.log(`\ndocs/${page}: section bench:${section} written`)
}
