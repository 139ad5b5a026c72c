/** Whether `error` came from the connection rather than the statement (server gone, timeout). */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? ''
  return (
    code.startsWith('08') ||
    // admin_shutdown, crash_shutdown, cannot_connect_now (the server is stopping or starting)
    ['57P01', '57P02', '57P03'].includes(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'EPIPE'].includes(code)
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
