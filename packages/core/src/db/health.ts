import type postgres from 'postgres'
import { DatabaseUnavailableError } from '../errors.js'

/**
 * One real round trip to the database, failing with {@link DatabaseUnavailableError}
 * after `timeoutMs` at the latest (a dead server would otherwise hold the caller for the
 * pool's whole connect timeout).
 */
export async function pingDatabase<Types extends Record<string, unknown>>(sql: postgres.Sql<Types>, timeoutMs = 2000): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailableError(`the database did not answer within ${timeoutMs} ms`)), timeoutMs)
  })
  const query = sql`select 1`
  try {
    await Promise.race([query.execute(), timeout])
  } catch (error) {
    if (error instanceof DatabaseUnavailableError) {
      // The answer is already given; a cancel that fails (the server is gone) changes nothing.
      query.cancel().catch(() => {})
      throw error
    }
    throw new DatabaseUnavailableError(`the database is unavailable: ${(error as Error).message}`, { cause: error })
  } finally {
    clearTimeout(timer)
  }
}
