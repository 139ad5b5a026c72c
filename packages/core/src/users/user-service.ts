import bcrypt from 'bcrypt'
import type { InTenant, TenantRef } from '../db/tenant-scope.js'
import { AuthenticationError, ConflictError, NotFoundError, ValidationError } from '../errors.js'

/** A user as every caller sees it: never the password hash. */
export interface User {
  readonly id: number
  readonly email: string
  readonly name: string | null
  readonly createdAt: Date
}

export interface RegisterUserInput {
  readonly email: string
  readonly password: string
  readonly name?: string | null
}

export interface UserServiceOptions {
  readonly inTenant: InTenant
  /** bcrypt cost factor, at least 10. */
  readonly bcryptCost?: number
}

const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
const MAX_EMAIL = 254
const MAX_NAME = 200
/** bcrypt reads at most 72 bytes: a longer password would be silently truncated. */
export const PASSWORD_MIN_BYTES = 8
export const PASSWORD_MAX_BYTES = 72

/** Trimmed and lower-cased, so `Ann@Example.com ` and `ann@example.com` are one account. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase()
}

function validateRegistration(input: RegisterUserInput): { email: string; name: string | null } {
  const problems: string[] = []
  const email = typeof input.email === 'string' ? normaliseEmail(input.email) : ''
  if (email.length > MAX_EMAIL || !EMAIL_SHAPE.test(email)) problems.push('email must be a valid address')
  const bytes = typeof input.password === 'string' ? Buffer.byteLength(input.password) : 0
  if (bytes < PASSWORD_MIN_BYTES || bytes > PASSWORD_MAX_BYTES) {
    problems.push(`password must be ${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} bytes long`)
  }
  const name = typeof input.name === 'string' ? input.name.trim() || null : null
  if (name !== null && name.length > MAX_NAME) problems.push(`name must be at most ${MAX_NAME} characters`)
  // NOTE: PostgreSQL's text cannot hold U+0000 (it was a 500 before this check). The
  // password is refused too, so that no account ever holds one (login relies on it).
  for (const [field, value] of [
    ['email', input.email],
    ['password', input.password],
    ['name', input.name],
  ] as const) {
    if (typeof value === 'string' && value.includes('\u0000')) problems.push(`${field} must not contain NUL characters`)
  }
  if (problems.length > 0) throw new ValidationError(problems.join('; '), 'VALIDATION_FAILED', problems)
  return { email, name }
}

/** Users of one tenant: registration with bcrypt, login, lookup. */
export function createUserService({ inTenant, bcryptCost = 12 }: UserServiceOptions) {
  if (bcryptCost < 10) throw new ValidationError('bcrypt cost must be at least 10', 'INVALID_BCRYPT_COST')
  // A hash to compare against when the email is unknown, so both failures cost one bcrypt.
  let decoyHash: Promise<string> | undefined

  async function registerUser(tenant: TenantRef, input: RegisterUserInput): Promise<User> {
    const { email, name } = validateRegistration(input)
    const passwordHash = await bcrypt.hash(input.password, bcryptCost)
    // NOTE: a taken email is the absence of a returned row, not a unique-violation error:
    // Citus re-raises a worker's error without its constraint name.
    const [user] = await inTenant(
      tenant,
      ({ sql, schema }) => sql<User[]>`
        insert into ${schema}.users (email, name, password_hash)
        values (${email}, ${name}, ${passwordHash})
        on conflict (email) do nothing
        returning id, email, name, created_at`,
    )
    if (!user) throw new ConflictError('a user with this email already exists', 'EMAIL_TAKEN')
    return user
  }

  /**
   * The user whose email and password match, or one {@link AuthenticationError} whether the
   * email is unknown or the password wrong: same message, same bcrypt work.
   */
  async function authenticateUser(tenant: TenantRef, email: string, password: string): Promise<User> {
    const rejected = new AuthenticationError('invalid email or password', 'INVALID_CREDENTIALS')
    // No account holds a NUL byte (see validateRegistration): refused before any query.
    if (typeof email !== 'string' || typeof password !== 'string' || email.includes('\u0000') || password.includes('\u0000')) throw rejected
    const [row] = await inTenant(
      tenant,
      ({ sql, schema }) => sql<(User & { passwordHash: string })[]>`
        select id, email, name, created_at, password_hash from ${schema}.users
        where email = ${normaliseEmail(email)}`,
    )
    const passwordBytes = Buffer.byteLength(password)
    const candidate = passwordBytes > PASSWORD_MAX_BYTES ? '' : password
    if (!row) {
      decoyHash ??= bcrypt.hash('decoy-password-never-matches', bcryptCost)
      await bcrypt.compare(candidate, await decoyHash)
      throw rejected
    }
    if (!(await bcrypt.compare(candidate, row.passwordHash)) || passwordBytes > PASSWORD_MAX_BYTES) throw rejected
    const { passwordHash: _hash, ...user } = row
    return user
  }

  async function getUser(tenant: TenantRef, id: number): Promise<User> {
    if (!Number.isSafeInteger(id) || id < 1) throw new NotFoundError('user not found', 'USER_NOT_FOUND')
    const [user] = await inTenant(
      tenant,
      ({ sql, schema }) => sql<User[]>`select id, email, name, created_at from ${schema}.users where id = ${sql.types.bigint(id)}`,
    )
    if (!user) throw new NotFoundError('user not found', 'USER_NOT_FOUND')
    return user
  }

  return { registerUser, authenticateUser, getUser }
}

export type UserService = ReturnType<typeof createUserService>
