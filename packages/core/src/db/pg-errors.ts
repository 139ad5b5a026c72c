import { CoreError, DatabaseUnavailableError, WriteOutcomeUnknownError } from '../errors.js'

/** Whether `error` came from the connection rather than the statement (server gone, timeout). */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? ''
  // A query past DB_QUERY_TIMEOUT_MS whose cancel went unanswered: postgres.js closed its connection.
  if (code === 'QUERY_TIMEOUT') return isConnectionError((error as { cause?: unknown }).cause)
  return (
    code.startsWith('08') ||
    // admin_shutdown, crash_shutdown, cannot_connect_now (the server is stopping or starting)
    ['57P01', '57P02', '57P03'].includes(code) ||
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'CONNECT_TIMEOUT',
      'CONNECTION_CLOSED',
      'CONNECTION_ENDED',
      'CONNECTION_DESTROYED',
      'CANCEL_UNANSWERED',
      'EPIPE',
    ].includes(code)
  )
}

/**
 * Whether postgres.js gave up on a query after DB_QUERY_TIMEOUT_MS (its `query_timeout`):
 * the server canceled it, or never answered the cancel.
 */
export function isQueryTimeoutError(error: unknown): boolean {
  return (error as { code?: string })?.code === 'QUERY_TIMEOUT'
}

/**
 * Whether a statement named a table or schema that does not exist (undefined_table,
 * invalid_schema_name). On a tenant's table, right after the tenant was deleted by another
 * process, this is how its last cached requests fail: callers check that the tenant is gone.
 */
export function isUndefinedTableError(error: unknown): boolean {
  const code = (error as { code?: string })?.code
  return code === '42P01' || code === '3F000'
}

/**
 * What the driver's `error` means in core's terms: a lost connection, or a query the
 * database did not finish within DB_QUERY_TIMEOUT_MS, is a {@link DatabaseUnavailableError};
 * anything else (core's own errors included) is itself.
 */
export function toCoreError(error: unknown): unknown {
  if (error instanceof CoreError) return error
  if (isQueryTimeoutError(error)) {
    return new DatabaseUnavailableError(`database did not answer in time: ${(error as Error).message}`, { cause: error })
  }
  if (!isConnectionError(error)) return error
  return new DatabaseUnavailableError(`database unreachable: ${(error as Error).message}`, { cause: error })
}

/**
 * `services` with each method's rejections passed through {@link toCoreError}, so the edges
 * see core's error classes only: the one place where driver errors become core's, at the
 * services' boundary. A member that is itself a service (an object with methods, such as
 * `services.tenants`) has its methods wrapped the same way; data (an object without
 * methods) and methods that return no promise are left as they are.
 */
export function reportingCoreErrors<T extends object>(services: T): T {
  const wrapped: Record<string, unknown> = {}
  for (const [name, member] of Object.entries(services)) {
    if (typeof member === 'function') wrapped[name] = reportingMethod(member as (...args: unknown[]) => unknown)
    else if (isService(member)) wrapped[name] = reportingCoreErrors(member)
    else wrapped[name] = member
  }
  return wrapped as T
}

function isService(member: unknown): member is object {
  return (
    typeof member === 'object' &&
    member !== null &&
    !Array.isArray(member) &&
    Object.values(member).some((value) => typeof value === 'function')
  )
}

function reportingMethod(method: (...args: unknown[]) => unknown) {
  return (...args: unknown[]) => {
    const result = method(...args)
    return result instanceof Promise
      ? result.catch((error: unknown) => {
          throw toCoreError(error)
        })
      : result
  }
}

/** Codes of a connection that could not be made: no statement of it reached the server. */
const NOT_CONNECTED_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'CONNECT_TIMEOUT', '57P03'])

/**
 * A failure of a write made outside a transaction of its own (a request without an
 * idempotency key), as its client must read it: a lost connection is a
 * {@link WriteOutcomeUnknownError} (a statement may have been applied before its answer was
 * lost), unless the connection was never made, which leaves it a DatabaseUnavailableError
 * (nothing was sent). Anything else is itself.
 */
export function asWriteFailure(error: unknown): unknown {
  if (!(error instanceof DatabaseUnavailableError) || error instanceof WriteOutcomeUnknownError) return error
  for (let cause = error.cause, depth = 0; depth < 5 && cause; cause = (cause as { cause?: unknown }).cause, depth++) {
    if (NOT_CONNECTED_CODES.has((cause as { code?: string }).code ?? '')) return error
  }
  // A tenant connection that failed to reconnect refuses its queries without sending them.
  if (error.cause === undefined) return error
  return new WriteOutcomeUnknownError(`the connection was lost while a write was on its way: ${error.message}`, { cause: error })
}
