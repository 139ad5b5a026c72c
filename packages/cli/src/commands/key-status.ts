import type { ApiKeyInfo } from '@tenantbase/core'
import { formatSpan } from '../durations.js'
import { formatTime } from '../output.js'

/** active, revoked or expired, as shown in key lists. */
export function keyStatus(key: ApiKeyInfo, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (key.revokedAt) return 'revoked'
  if (key.expiresAt && key.expiresAt.getTime() <= now) return 'expired'
  return 'active'
}

/**
 * The STATUS cell of a key list: its status, and for a rotated key still in its grace
 * period how long it has left, as in `expires in 23h (rotated to tb_0123456789ab)`.
 */
export function describeKeyStatus(key: ApiKeyInfo, now = Date.now()): string {
  const status = keyStatus(key, now)
  const rotated = key.rotatedTo ? ` (rotated to ${key.rotatedTo})` : ''
  if (status === 'active' && key.rotatedTo && key.expiresAt) return `expires in ${formatSpan(key.expiresAt.getTime() - now)}${rotated}`
  return `${status}${rotated}`
}

/** The columns of a key table (keys list, show), and each key's row. */
export const KEY_TABLE_HEAD = ['PREFIX', 'NAME', 'SCOPE', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'] as const

export function keyTableRow(key: ApiKeyInfo, now = Date.now()): string[] {
  return [key.prefix, key.name, key.scope, describeKeyStatus(key, now), formatTime(key.createdAt), formatTime(key.expiresAt), formatTime(key.lastUsedAt)]
}
