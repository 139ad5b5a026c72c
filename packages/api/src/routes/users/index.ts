import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AuthenticationError, NotFoundError } from '@tenantbase/core'
import { HOST_LOGIN_SECURITY, HOST_REGISTRATION_SECURITY, USER_SECURITY } from '../../schemas/common.js'
import { BODY_ERRORS, errorResponses, USER_ERRORS, WRITE_KEY_ERRORS } from '../../schemas/errors.js'
import { LoginBody, RefreshBody, RegisterBody, TokenPair, toTokenPair, toUserResponse, UserResponse } from '../../schemas/users.js'

/** /api/users/: registration, login, token refresh, logout, and the current user. */
const users: FastifyPluginAsyncTypebox = async (app) => {
  const { users, refreshTokens } = app.services
  const expiresIn = app.apiConfig.auth.accessTokenTtlSeconds

  app.post('/register/', {
    schema: {
      tags: ['users'],
      operationId: 'registerUser',
      summary: 'Register a user in the tenant',
      description:
        "With the tenant's api key; or, at the tenant's host name without a key (TENANT_RESOLUTION=api-key,host), while its open registration is on (`tenantctl registration <schema> open`): else 403 `REGISTRATION_CLOSED`.",
      security: HOST_REGISTRATION_SECURITY,
      body: RegisterBody,
      response: { 201: UserResponse, ...errorResponses([...WRITE_KEY_ERRORS, ...BODY_ERRORS, 'EMAIL_TAKEN', 'REGISTRATION_CLOSED']) },
    },
    config: { hostAccess: 'registration' },
    handler: async (request, reply) => {
      const user = await users.registerUser(request.tenant!, request.body)
      return reply.code(201).send(toUserResponse(user))
    },
  })

  app.post('/login/', {
    schema: {
      tags: ['users'],
      operationId: 'logIn',
      summary: 'Log in: an access token and a refresh token',
      description:
        'Rate limited per tenant: failed attempts per email, and all attempts per client address. Over a limit: 429 with Retry-After.',
      security: HOST_LOGIN_SECURITY,
      body: LoginBody,
      response: {
        200: TokenPair,
        ...errorResponses([...WRITE_KEY_ERRORS, ...BODY_ERRORS, 'INVALID_CREDENTIALS', 'TOO_MANY_LOGIN_ATTEMPTS']),
      },
    },
    config: { rateLimit: app.loginAttemptLimit, hostAccess: 'login', idempotency: false },
    handler: async (request) => {
      const tenant = request.tenant!
      await app.loginFailures.check(request)
      let user
      try {
        user = await users.authenticateUser(tenant, request.body.email, request.body.password)
      } catch (error) {
        if (error instanceof AuthenticationError) await app.loginFailures.recordFailure(request)
        throw error
      }
      const refresh = await refreshTokens.issueRefreshToken(tenant, user.id)
      return toTokenPair(app.signAccessToken(user.id, tenant, refresh.familyId), refresh, expiresIn)
    },
  })

  app.post('/token/refresh/', {
    schema: {
      tags: ['users'],
      operationId: 'refreshTokens',
      summary: 'Exchange a refresh token for a new pair',
      description: 'The refresh token is single use. Presenting one that was already used revokes every token of its login.',
      security: HOST_LOGIN_SECURITY,
      body: RefreshBody,
      response: { 200: TokenPair, ...errorResponses([...WRITE_KEY_ERRORS, ...BODY_ERRORS, 'INVALID_REFRESH_TOKEN']) },
    },
    config: { hostAccess: 'login', idempotency: false },
    handler: async (request) => {
      const tenant = request.tenant!
      const refresh = await refreshTokens.rotateRefreshToken(tenant, request.body.refresh_token)
      return toTokenPair(app.signAccessToken(refresh.userId, tenant, refresh.familyId), refresh, expiresIn)
    },
  })

  app.post('/logout/', {
    schema: {
      tags: ['users'],
      operationId: 'logOut',
      summary: 'Log out: revoke the refresh token and every token of its login',
      description: "The login's access tokens are refused from then on (401 `ACCESS_TOKEN_REVOKED`), by every API process within a second.",
      security: HOST_LOGIN_SECURITY,
      body: RefreshBody,
      response: {
        204: Type.Null({ description: 'Logged out' }),
        ...errorResponses([...WRITE_KEY_ERRORS, ...BODY_ERRORS, 'INVALID_REFRESH_TOKEN']),
      },
    },
    config: { hostAccess: 'login', idempotency: false },
    handler: async (request, reply) => {
      await refreshTokens.revokeRefreshToken(request.tenant!, request.body.refresh_token)
      return reply.code(204).send(null)
    },
  })

  app.get('/me/', {
    schema: {
      tags: ['users'],
      operationId: 'getCurrentUser',
      summary: 'The user of the access token',
      security: USER_SECURITY,
      response: { 200: UserResponse, ...errorResponses(USER_ERRORS) },
    },
    preHandler: app.requireUser,
    handler: async (request) => {
      try {
        return toUserResponse(await users.getUser(request.tenant!, request.userId!))
      } catch (error) {
        // A valid token of a user that no longer exists.
        if (error instanceof NotFoundError) throw new AuthenticationError('the user of this token no longer exists', 'INVALID_ACCESS_TOKEN')
        throw error
      }
    },
  })
}

export default users
