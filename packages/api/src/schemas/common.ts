import { Type } from '@sinclair/typebox'

/** A database id as the API spells it: 1 to 16 digits, no leading zero (exact as a JavaScript number). */
export const ID_PATTERN = '[1-9][0-9]{0,15}'
const WHOLE_ID = new RegExp(`^${ID_PATTERN}$`)

/** `text` as an id, or NaN when it is not one (core answers NaN ids as not found). */
export function parseId(text: string): number {
  return WHOLE_ID.test(text) ? Number(text) : Number.NaN
}

/** `api-key` alone: routes open to any caller of the tenant. */
export const API_KEY_SECURITY = [{ apiKey: [] }]
/** `api-key` and a Bearer access token of the same tenant, both required. */
export const USER_SECURITY = [{ apiKey: [], bearer: [] }]

/** No authentication at all (health routes): said explicitly, as OpenAPI has no default here. */
export const NO_SECURITY: never[] = []

/** A timestamp in ISO 8601 / RFC 3339 with a timezone. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2026-11-27T16:20:00.000Z'] })
