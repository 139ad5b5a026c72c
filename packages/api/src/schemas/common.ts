import { Type } from '@sinclair/typebox'

/** `api-key` alone: routes open to any caller of the tenant. */
export const API_KEY_SECURITY = [{ apiKey: [] }]
/** `api-key` and a Bearer access token of the same tenant, both required. */
export const USER_SECURITY = [{ apiKey: [], bearer: [] }]

/** No authentication at all (health routes): said explicitly, as OpenAPI has no default here. */
export const NO_SECURITY: never[] = []

/** A timestamp in ISO 8601 / RFC 3339 with a timezone. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2026-11-27T16:20:00.000Z'] })
