/**
 * Errors the cli itself raises. Each carries the exit code bin.ts sets; core's typed errors
 * are mapped in {@link exitCodeFor}. Commands throw these and never exit.
 */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2
export const EXIT_INTERRUPTED = 130

export class CliError extends Error {
  readonly exitCode: number
  /** Stable UPPER_SNAKE code, as core's errors have: the `code` of `--json`'s error document. */
  readonly code: string
  constructor(message: string, exitCode: number, code: string) {
    super(message)
    this.name = new.target.name
    this.exitCode = exitCode
    this.code = code
  }
}

/** Wrong or missing flags and arguments: exit 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE, 'USAGE')
  }
}

/** The operator said no at a confirmation: nothing was changed, exit 1. */
export class CancelledError extends CliError {
  constructor(message: string) {
    super(message, EXIT_FAILURE, 'CANCELLED')
  }
}

/** Ctrl-C at a prompt (or a signal): exit 130. */
export class InterruptedError extends CliError {
  constructor(message = 'interrupted') {
    super(message, EXIT_INTERRUPTED, 'INTERRUPTED')
  }
}

/**
 * The command ran and reported its result, which is a failure (failed tenants, pending
 * migrations, findings). Under --json that result is the document on stdout.
 */
export class CommandFailedError extends CliError {
  constructor(message: string) {
    super(message, EXIT_FAILURE, 'COMMAND_FAILED')
  }
}

/** The shared schema is behind its migrations, so the command could not run: exit 1. */
export class NotMigratedError extends CliError {
  /** `state` and `latest` as core's formatState writes them (`core 0`, `core 3, comments 1`). */
  constructor(state: string, latest: string) {
    super(
      `the database is not migrated (shared schema at ${state}, its files reach ${latest}): run \`tenantctl migrate\` first`,
      EXIT_FAILURE,
      'NOT_MIGRATED',
    )
  }
}

/** Under --json, a failed command's stdout: `{"error": {"code", "message"}}`. */
export interface JsonErrorDocument {
  readonly error: { readonly code: string; readonly message: string }
}

/** What bin.ts needs to know about an error to report it. */
export interface ErrorReport {
  readonly exitCode: number
  /** One readable line (or lines, for configuration problems); undefined when already printed. */
  readonly message: string | undefined
  /**
   * What --json prints on stdout; undefined when the command succeeded (help) or already
   * printed its result document ({@link CommandFailedError}).
   */
  readonly json: JsonErrorDocument | undefined
  /** True for errors nobody anticipated: bin.ts suggests --verbose. */
  readonly unexpected: boolean
}

interface CommanderLikeError {
  code: string
  exitCode: number
}

function isCommanderError(error: unknown): error is CommanderLikeError & Error {
  return error instanceof Error && error.name === 'CommanderError' && typeof (error as { code?: unknown }).code === 'string'
}

/** Errors raised by the cli or commander, which need no core to classify. */
export function isOwnError(error: unknown): boolean {
  return error instanceof CliError || isCommanderError(error)
}

/** Core error classes bin.ts hands in once core is loaded (it is not, for usage errors). */
export interface CoreErrorClasses {
  readonly CoreError: abstract new (...args: never[]) => Error & { code: string }
  readonly ValidationError: abstract new (...args: never[]) => Error
  readonly ConfigError: abstract new (...args: never[]) => Error
}

/**
 * The one mapping of errors to exit codes: 0 ok, 1 failure, 2 usage or invalid input,
 * 130 interrupted.
 */
export function exitCodeFor(error: unknown, core?: CoreErrorClasses): ErrorReport {
  const document = (code: string, message: string): JsonErrorDocument => ({ error: { code, message } })
  if (isCommanderError(error)) {
    // Commander has already printed its message (or the help). It asks for 0 after help
    // that was asked for (--help, `help create`, --version) and 1 otherwise: a usage error.
    if (error.exitCode === 0) return { exitCode: EXIT_OK, message: undefined, json: undefined, unexpected: false }
    return { exitCode: EXIT_USAGE, message: undefined, json: document('USAGE', error.message.replace(/^error: /, '')), unexpected: false }
  }
  if (error instanceof CliError) {
    const json = error instanceof CommandFailedError ? undefined : document(error.code, error.message)
    return { exitCode: error.exitCode, message: error.message, json, unexpected: false }
  }
  if (core && error instanceof core.CoreError) {
    const usage = [core.ValidationError, core.ConfigError].some((kind) => error instanceof kind)
    return {
      exitCode: usage ? EXIT_USAGE : EXIT_FAILURE,
      message: error.message,
      json: document(error.code, error.message),
      unexpected: false,
    }
  }
  const message = `unexpected error: ${error instanceof Error ? error.message : String(error)}`
  return { exitCode: EXIT_FAILURE, message, json: document('UNEXPECTED', message), unexpected: true }
}
