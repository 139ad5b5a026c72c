import { Type } from '@sinclair/typebox'

/** A database id as the API spells it: 1 to 16 digits, no leading zero (exact as a JavaScript number). */
export const ID_PATTERN = '[1-9][0-9]{0,15}'
const WHOLE_ID = new RegExp(`^${ID_PATTERN}$`)

/** `text` as an id, or NaN when it is not one (core answers NaN ids as not found). */
export function parseId(text: string): number {
  return WHOLE_ID.test(text) ? Number(text) : Number.NaN
}

/** A route's alternatives of security requirements, as OpenAPI lists them. */
type Security = readonly Readonly<Record<string, readonly string[]>>[]

// NOTE: `tenantHost` (the tenant's host name, without a key) is an alternative only where the
// deployment resolves tenants by host (TENANT_RESOLUTION=api-key,host); elsewhere swagger.ts
// takes it out of the document.

/** `api-key` alone: routes open to any caller of the tenant; found by its host name, a caller also needs a user's token. */
export const API_KEY_SECURITY: Security = [{ apiKey: [] }, { tenantHost: [], bearer: [] }]
/** Log in, refresh, log out: the api key, or the tenant's host name alone. */
export const HOST_LOGIN_SECURITY: Security = [{ apiKey: [] }, { tenantHost: [] }]
/** Register: the api key, or the tenant's host name alone while its open registration is on. */
export const HOST_REGISTRATION_SECURITY = HOST_LOGIN_SECURITY
/** A Bearer access token of the tenant, with its `api-key` (or at its host name). */
export const USER_SECURITY: Security = [
  { apiKey: [], bearer: [] },
  { tenantHost: [], bearer: [] },
]

/** No authentication at all (health routes): said explicitly, as OpenAPI has no default here. */
export const NO_SECURITY: never[] = []

/** A timestamp in ISO 8601 / RFC 3339 with a timezone. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2026-11-27T16:20:00.000Z'] })
