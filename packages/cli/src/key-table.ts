import type { ListedApiKey } from '@tenantbase/core'
import { formatSpan } from './durations.js'
import { formatTime } from './output.js'

/**
 * The STATUS cell of a key table: core's status, and for a rotated key still in its grace
 * period how long it has left, as in `expires in 23h (rotated to tb_0123456789ab)`.
 */
function describeKeyStatus(key: ListedApiKey, now: number): string {
  const rotated = key.rotatedTo ? ` (rotated to ${key.rotatedTo})` : ''
  if (key.status === 'active' && key.rotatedTo && key.expiresAt) return `expires in ${formatSpan(key.expiresAt.getTime() - now)}${rotated}`
  return `${key.status}${rotated}`
}

/** The columns of a key table (keys list, show). */
export const KEY_TABLE_HEAD = ['PREFIX', 'NAME', 'SCOPE', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'] as const

/** A key's row in a key table. */
export function keyTableRow(key: ListedApiKey, now = Date.now()): string[] {
  return [
    key.prefix,
    key.name,
    key.scope,
    describeKeyStatus(key, now),
    formatTime(key.createdAt),
    formatTime(key.expiresAt),
    formatTime(key.lastUsedAt),
  ]
}
