import { MigrationError } from '../errors.js'

/** One statement of a migration file, as it is sent to the server. */
export interface SqlStatement {
  /** The statement's text, without its terminating semicolon. */
  readonly sql: string
  /** The 1-based line of the file where the statement's first token stands. */
  readonly line: number
}

interface RawStatement {
  readonly stmt: Record<string, unknown>
  readonly stmt_location?: number
  readonly stmt_len?: number
}

/**
 * PostgreSQL's own parser (WASM), loaded on first use: a process that reads migration files
 * but applies none (status, a no-op migrate, the API) never pays for loading it.
 */
let parser: Promise<typeof import('libpg-query')> | undefined

/** 1-based line of the character at `index` of `text`. */
function lineAt(text: string, index: number): number {
  let line = 1
  for (let i = 0; i < index && i < text.length; i++) if (text.charCodeAt(i) === 10) line++
  return line
}

/** Index of the first character of `text` at or after `from` that is neither blank nor inside a comment. */
function skipBlanksAndComments(text: string, from: number): number {
  let i = from
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++
    if (text.startsWith('--', i)) {
      const end = text.indexOf('\n', i)
      i = end === -1 ? text.length : end + 1
    } else if (text.startsWith('/*', i)) {
      // PostgreSQL's block comments nest.
      let depth = 0
      do {
        if (text.startsWith('/*', i)) {
          depth++
          i += 2
        } else if (text.startsWith('*/', i)) {
          depth--
          i += 2
        } else i++
      } while (depth > 0 && i < text.length)
    } else return i
  }
}

/**
 * Splits a migration file into its statements with PostgreSQL's own parser (libpg-query,
 * WebAssembly), so quotes, `E''` strings, dollar quoting, nested comments and
 * `BEGIN ATOMIC ... END` bodies split where the server would. `file` names the source in
 * errors: a syntax error, or transaction control (each migration already runs in a
 * transaction of its own), is a {@link MigrationError} naming the file and the line.
 *
 * NOTE: each statement is sent as a query of its own because Citus forwards the original
 * query string of some DDL (CREATE INDEX, ADD CONSTRAINT ... UNIQUE) to its workers, which
 * refuse a string holding several commands.
 */
export async function splitStatements(source: string, file: string): Promise<SqlStatement[]> {
  if (source.trim() === '') return []
  parser ??= import('libpg-query').then(async (module) => {
    await module.loadModule()
    return module
  })
  const { parseSync } = await parser
  let parsed: { stmts?: RawStatement[] }
  try {
    parsed = parseSync(source) as { stmts?: RawStatement[] }
  } catch (error) {
    const position = (error as { sqlDetails?: { cursorPosition?: number } }).sqlDetails?.cursorPosition
    // The parser's cursor counts characters from 0.
    const where = typeof position === 'number' && position >= 0 ? ` line ${lineAt(source, position)}` : ''
    throw new MigrationError(`migration file ${file}${where}: ${(error as Error).message}`, 'MIGRATION_SYNTAX', { cause: error })
  }
  // The parser's locations count bytes of the UTF-8 text, not JavaScript characters.
  const bytes = Buffer.from(source, 'utf8')
  const statements: SqlStatement[] = []
  for (const raw of parsed.stmts ?? []) {
    const start = raw.stmt_location ?? 0
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length
    const before = bytes.subarray(0, start).toString('utf8')
    const text = bytes.subarray(start, end).toString('utf8')
    const offset = skipBlanksAndComments(text, 0)
    const line = lineAt(source, before.length + offset)
    if ('TransactionStmt' in raw.stmt) {
      throw new MigrationError(
        `migration file ${file} line ${line}: transaction control is not allowed; each migration runs in a transaction of its own`,
        'MIGRATION_SYNTAX',
      )
    }
    statements.push({ sql: text.slice(offset).trimEnd(), line })
  }
  return statements
}
