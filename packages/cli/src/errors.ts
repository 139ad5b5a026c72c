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
  constructor(message: string, exitCode: number) {
    super(message)
    this.name = new.target.name
    this.exitCode = exitCode
  }
}

/** Wrong or missing flags and arguments: exit 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE)
  }
}

/** The operator said no at a confirmation: nothing was changed, exit 1. */
export class CancelledError extends CliError {
  constructor(message: string) {
    super(message, EXIT_FAILURE)
  }
}

/** Ctrl-C at a prompt (or a signal): exit 130. */
export class InterruptedError extends CliError {
  constructor(message = 'interrupted') {
    super(message, EXIT_INTERRUPTED)
  }
}

/** The command ran and reported its result, which is a failure (failed tenants, pending migrations, findings). */
export class CommandFailedError extends CliError {
  constructor(message: string) {
    super(message, EXIT_FAILURE)
  }
}

/** What bin.ts needs to know about an error to report it. */
export interface ErrorReport {
  readonly exitCode: number
  /** One readable line (or lines, for configuration problems); undefined when already printed. */
  readonly message: string | undefined
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
  if (isCommanderError(error)) {
    // Commander has already printed its message (or the help). It asks for 0 after help
    // that was asked for (--help, `help create`, --version) and 1 otherwise: a usage error.
    return { exitCode: error.exitCode === 0 ? EXIT_OK : EXIT_USAGE, message: undefined, unexpected: false }
  }
  if (error instanceof CliError) return { exitCode: error.exitCode, message: error.message, unexpected: false }
  if (core && (error instanceof core.ValidationError || error instanceof core.ConfigError)) {
    return { exitCode: EXIT_USAGE, message: error.message, unexpected: false }
  }
  if (core && error instanceof core.CoreError) return { exitCode: EXIT_FAILURE, message: error.message, unexpected: false }
  const message = error instanceof Error ? error.message : String(error)
  return { exitCode: EXIT_FAILURE, message: `unexpected error: ${message}`, unexpected: true }
}
