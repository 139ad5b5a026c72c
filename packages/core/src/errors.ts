/**
 * Typed errors thrown by core. Each carries a stable UPPER_SNAKE `code`; the edges
 * (api, cli) map the class to an HTTP status or exit code once, and show `message`
 * to people. `details` holds structured, non-secret context (for example every
 * problem found by a validation).
 */
export class CoreError extends Error {
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
  constructor(message: string, code = 'VALIDATION_FAILED', details?: readonly string[]) {
    super(code, message, details)
  }
}

/** Configuration that cannot start the program; `details` lists every problem. */
export class ConfigError extends CoreError {
  constructor(problems: readonly string[]) {
    super('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, problems)
  }
}

/** The thing asked for does not exist (or belongs to another tenant). */
export class NotFoundError extends CoreError {
  constructor(message: string, code = 'NOT_FOUND') {
    super(code, message)
  }
}

/** The thing would collide with one that exists (duplicate name, schema, email). */
export class ConflictError extends CoreError {
  constructor(message: string, code = 'CONFLICT') {
    super(code, message)
  }
}

/** Credentials (api key, password, token) are missing, unknown, revoked or expired. */
export class AuthenticationError extends CoreError {
  constructor(message = 'authentication failed', code = 'UNAUTHENTICATED') {
    super(code, message)
  }
}

/** The caller is known but may not do this (for example edit another user's post). */
export class ForbiddenError extends CoreError {
  constructor(message: string, code = 'FORBIDDEN') {
    super(code, message)
  }
}

/** A migration cannot be applied safely (changed file, failed statement). */
export class MigrationError extends CoreError {
  constructor(message: string, code = 'MIGRATION_FAILED', options?: ErrorOptions) {
    super(code, message, undefined, options)
  }
}

/** The database cannot be reached or started. */
export class DatabaseUnavailableError extends CoreError {
  constructor(message: string, options?: ErrorOptions) {
    super('DATABASE_UNAVAILABLE', message, undefined, options)
  }
}

/**
 * This process does not hear revocations (its own NOTIFY did not come back), so it cannot
 * promise that a revoked key or an ended login stops working everywhere within a second.
 */
export class RevocationsNotHeardError extends CoreError {
  constructor(message: string) {
    super('REVOCATIONS_NOT_HEARD', message)
  }
}
