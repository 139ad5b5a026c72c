import { Type, type Static } from '@sinclair/typebox'
import { PASSWORD_MAX_BYTES, PASSWORD_MIN_BYTES, type IssuedRefreshToken, type User } from '@tenantbase/core'
import { Timestamp } from './common.js'

export const UserResponse = Type.Object(
  {
    id: Type.Integer({ examples: [1] }),
    email: Type.String({ format: 'email', examples: ['ann@example.com'] }),
    name: Type.Union([Type.String(), Type.Null()], { examples: ['Ann'] }),
    created_at: Timestamp,
  },
  { title: 'User', description: 'A user of the tenant; never carries the password hash.' },
)
export type UserResponse = Static<typeof UserResponse>

export const RegisterBody = Type.Object(
  {
    email: Type.String({ maxLength: 254, description: 'an email address, trimmed and lower-cased', examples: ['ann@example.com'] }),
    password: Type.String({
      minLength: 1,
      maxLength: 200,
      description: `${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} bytes (bcrypt's limit)`,
      examples: ['correct horse battery'],
    }),
    name: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()], { examples: ['Ann'] })),
  },
  { additionalProperties: false },
)
export type RegisterBody = Static<typeof RegisterBody>

export const LoginBody = Type.Object(
  {
    email: Type.String({ maxLength: 254, examples: ['ann@example.com'] }),
    password: Type.String({ maxLength: 200, examples: ['correct horse battery'] }),
  },
  { additionalProperties: false },
)
export type LoginBody = Static<typeof LoginBody>

export const RefreshBody = Type.Object(
  { refresh_token: Type.String({ maxLength: 200, examples: ['rt_0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6'] }) },
  { additionalProperties: false },
)
export type RefreshBody = Static<typeof RefreshBody>

export const TokenPair = Type.Object(
  {
    access_token: Type.String({ description: 'a JWT (HS256) to send as `Authorization: Bearer <token>`' }),
    refresh_token: Type.String({ description: 'single use: each refresh returns a new one' }),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer({ description: "the access token's lifetime in seconds", examples: [900] }),
  },
  { title: 'TokenPair' },
)
export type TokenPair = Static<typeof TokenPair>

/** Core's user (camelCase) as the HTTP contract shows it (snake_case). */
export function toUserResponse(user: User): UserResponse {
  return { id: user.id, email: user.email, name: user.name, created_at: user.createdAt as unknown as string }
}

export function toTokenPair(accessToken: string, refresh: IssuedRefreshToken, expiresIn: number): TokenPair {
  return { access_token: accessToken, refresh_token: refresh.token, token_type: 'Bearer', expires_in: expiresIn }
}
