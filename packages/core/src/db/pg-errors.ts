import { CoreError, DatabaseUnavailableError } from '../errors.js'

/** Whether `error` came from the connection rather than the statement (server gone, timeout). */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? ''
  return (
    code.startsWith('08') ||
    // admin_shutdown, crash_shutdown, cannot_connect_now (the server is stopping or starting)
    ['57P01', '57P02', '57P03'].includes(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'EPIPE'].includes(
      code,
    )
  )
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
 * What the driver's `error` means in core's terms: a lost connection is a
 * {@link DatabaseUnavailableError}; anything else (core's own errors included) is itself.
 */
export function toCoreError(error: unknown): unknown {
  if (error instanceof CoreError || !isConnectionError(error)) return error
  return new DatabaseUnavailableError(`database unreachable: ${(error as Error).message}`, { cause: error })
}

/**
 * `service` with each method's rejections passed through {@link toCoreError}, so the edges
 * see core's error classes only. Methods that return no promise are left as they are.
 */
export function reportingCoreErrors<T extends object>(service: T): T {
  const wrapped: Record<string, unknown> = {}
  for (const [name, member] of Object.entries(service)) {
    if (typeof member !== 'function') {
      wrapped[name] = member
      continue
    }
    wrapped[name] = (...args: unknown[]) => {
      const result: unknown = member(...args)
      return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(toCoreError(error))) : result
    }
  }
  return wrapped as T
}
