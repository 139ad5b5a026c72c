import type { ApiKeyInfo } from '@tenantbase/core'

/** active, revoked or expired, as shown in key lists. */
export function keyStatus(key: ApiKeyInfo, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (key.revokedAt) return 'revoked'
  if (key.expiresAt && key.expiresAt.getTime() <= now) return 'expired'
  return 'active'
}
