/**
 * Typed errors thrown by core. Each carries a stable UPPER_SNAKE `code`; the edges map it
 * once (the api to an HTTP status by code, in its error table; the cli to an exit code by
 * class) and show `message` to people. `details` holds structured, non-secret context (for
 * example every problem found by a validation).
 *
 * Each class names its generic code (`genericCode`): the code it carries when none is given,
 * and the one whose meaning a code unknown to an edge falls back to (a module's own
 * `COMMENT_NOT_FOUND` thrown as a NotFoundError answers as `NOT_FOUND` does).
 */
export class CoreError extends Error {
  /** None here: a bare CoreError is a bug wherever it reaches an edge. */
  static readonly genericCode: string | undefined = undefined
  readonly code: string
  readonly details: readonly string[] | undefined

  constructor(code: string, message: string, details?: readonly string[], options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.details = details
  }
}

/** Input that breaks a rule (bad schema name, short password, title too long...). */
export class ValidationError extends CoreError {
  static override readonly genericCode = 'VALIDATION_FAILED'

  constructor(message: string, code: string = ValidationError.genericCode, details?: readonly string[]) {
    super(code, message, details)
  }
}

/** Configuration that cannot start the program; `details` lists every problem. */
export class ConfigError extends CoreError {
  static override readonly genericCode = 'CONFIG_INVALID'

  constructor(problems: readonly string[]) {
    super(ConfigError.genericCode, `invalid configuration:\n  - ${problems.join('\n  - ')}`, problems)
  }
}

/** The thing asked for does not exist (or belongs to another tenant). */
export class NotFoundError extends CoreError {
  static override readonly genericCode = 'NOT_FOUND'

  constructor(message: string, code: string = NotFoundError.genericCode) {
    super(code, message)
  }
}

/** The thing would collide with one that exists (duplicate name, schema, email). */
export class ConflictError extends CoreError {
  static override readonly genericCode = 'CONFLICT'

  constructor(message: string, code: string = ConflictError.genericCode) {
    super(code, message)
  }
}

/** Credentials (api key, password, token) are missing, unknown, revoked or expired. */
export class AuthenticationError extends CoreError {
  static override readonly genericCode = 'UNAUTHENTICATED'

  constructor(message = 'authentication failed', code: string = AuthenticationError.genericCode) {
    super(code, message)
  }
}

/** The caller is known but may not do this (for example edit another user's post). */
export class ForbiddenError extends CoreError {
  static override readonly genericCode = 'FORBIDDEN'

  constructor(message: string, code: string = ForbiddenError.genericCode) {
    super(code, message)
  }
}

/** A migration cannot be applied safely (changed file, failed statement). */
export class MigrationError extends CoreError {
  static override readonly genericCode = 'MIGRATION_FAILED'

  constructor(message: string, code: string = MigrationError.genericCode, options?: ErrorOptions) {
    super(code, message, undefined, options)
  }
}

/**
 * The database cannot be reached or started. A write that fails with it was not applied:
 * its connection was lost before its COMMIT was sent, or its transaction rolled back.
 */
export class DatabaseUnavailableError extends CoreError {
  static override readonly genericCode = 'DATABASE_UNAVAILABLE'

  constructor(message: string, options?: ErrorOptions, code: string = DatabaseUnavailableError.genericCode) {
    super(code, message, undefined, options)
  }
}

/**
 * The connection was lost while a write's COMMIT (or a write outside a transaction) was on
 * its way: the write may or may not have happened. A retry with the same idempotency key
 * finds out without writing twice.
 */
export class WriteOutcomeUnknownError extends DatabaseUnavailableError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options, 'WRITE_OUTCOME_UNKNOWN')
  }
}

/**
 * This process does not hear revocations (its own NOTIFY did not come back), so it cannot
 * promise that a revoked key or an ended login stops working everywhere within a second.
 */
export class RevocationsNotHeardError extends CoreError {
  static override readonly genericCode = 'REVOCATIONS_NOT_HEARD'

  constructor(message: string) {
    super(RevocationsNotHeardError.genericCode, message)
  }
}
