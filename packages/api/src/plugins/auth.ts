import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import { LRUCache } from 'lru-cache'
import { assertKeyScope, AuthenticationError, ForbiddenError, NotFoundError, type ResolvedTenant } from '@tenantbase/core'
import { parseId } from '../schemas/common.js'

/** The claims of an access token. */
export interface AccessTokenClaims {
  /** The user id, as a string (JWT's `sub` is a string). */
  readonly sub: string
  /** The tenant id: the token is good only with an api key of this tenant. */
  readonly tid: number
  /** The login (refresh token family) it belongs to: refused once that login ends. */
  readonly sid: string
  readonly iat: number
  readonly exp: number
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; tid: number; sid: string; iat: number }
    user: AccessTokenClaims
  }
}

/**
 * What a request found by its tenant's host name alone (no api key) may do on a route,
 * beyond what its user's access token allows: `login` (log in, refresh, log out) or
 * `registration` (register a user, when the tenant's open registration is on).
 */
export type HostAccess = 'login' | 'registration'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the few routes a request found by its host name may call without an access token. */
    hostAccess?: HostAccess
  }
  interface FastifyInstance {
    /**
     * onRequest hook: finds `request.tenant` in the order TENANT_RESOLUTION states. A presented
     * `api-key` header decides (401 for a bad key, 403 TENANT_SUSPENDED, 403
     * INSUFFICIENT_SCOPE when its scope does not cover the method, 403 HOST_TENANT_MISMATCH
     * when the host name names another tenant). Without one, the host name (404
     * TENANT_NOT_FOUND when it names none), which then allows only the route's `hostAccess`
     * or what a valid access token of that tenant's user allows.
     */
    requireApiKey: (request: FastifyRequest) => Promise<void>
    /** preHandler hook: verifies the Bearer token against `request.tenant`, sets `request.userId`, or 401. */
    requireUser: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void
    /** A signed access token for a user of a tenant, belonging to the login `sessionId`. */
    signAccessToken: (userId: number, tenant: ResolvedTenant, sessionId: string) => string
  }
}

export interface AuthOptions {
  readonly jwtSecret: string
  readonly accessTokenTtlSeconds: number
  /** The current time in milliseconds since the epoch, for issuing and expiring tokens (default `Date.now`). */
  readonly now?: () => number
}

/** Verified access tokens kept at most, by their text (see verifyToken). */
const VERIFIED_TOKENS_MAX = 10_000

/** What a verified access token says, kept until its expiry. */
interface VerifiedToken {
  readonly userId: number
  readonly tenantId: number
  readonly sessionId: string
  readonly expiresAtMs: number
}

function tokenRejected(): AuthenticationError {
  return new AuthenticationError('invalid or expired access token', 'INVALID_ACCESS_TOKEN')
}

function sessionEnded(): AuthenticationError {
  return new AuthenticationError(
    'the login of this access token has ended (logged out, or its refresh token was reused): log in again',
    'ACCESS_TOKEN_REVOKED',
  )
}

export default fp(
  async function auth(app: FastifyInstance, options: AuthOptions) {
    const now = options.now ?? Date.now
    // NOTE: HS256 is pinned on both sides: a token announcing `none` or any other
    // algorithm fails verification instead of choosing how it is checked.
    await app.register(fastifyJwt, {
      secret: options.jwtSecret,
      sign: { algorithm: 'HS256', expiresIn: `${options.accessTokenTtlSeconds}s` },
      // Verified tokens are cached here, by their text (see verifyToken), not by fast-jwt;
      // the expiry is checked there too, on the plugin's clock (`now`).
      verify: { algorithms: ['HS256'], requiredClaims: ['sub', 'tid', 'sid', 'exp', 'iat'], ignoreExpiration: true },
    })

    const byHost = app.apiConfig.tenantResolution.order.includes('host')
    const { apiKeyResolver, hostResolver } = app.services

    app.decorate('requireApiKey', async function requireApiKey(request: FastifyRequest) {
      const key = request.headers['api-key']
      if (key !== undefined && key !== '') {
        const tenant = await apiKeyResolver.resolve(key)
        // A read key reads: GET (and HEAD, its header-only twin) and nothing else.
        assertKeyScope(tenant, request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'write')
        // NOTE: the key decides, but a host that names another tenant is a mistake (or a
        // key carried to the wrong site): refused, never a silent pick of one of them.
        if (byHost) {
          const named = await hostResolver.resolveHost(request.host)
          if (named !== undefined && named.id !== tenant.id) {
            throw new ForbiddenError('this api key belongs to another tenant than the one this host name serves', 'HOST_TENANT_MISMATCH')
          }
        }
        request.tenant = tenant
        return
      }
      if (!byHost) throw new AuthenticationError('the api-key header is required', 'MISSING_API_KEY')
      // request.host: the Host header, or X-Forwarded-Host when TRUST_PROXY trusts the peer.
      const named = await hostResolver.resolveHost(request.host)
      if (named === undefined) {
        throw new NotFoundError(
          "no tenant is served at this host name: send the api-key header, or use a tenant's host name",
          'TENANT_NOT_FOUND',
        )
      }
      if (named.suspended !== null) throw new ForbiddenError(named.suspended, 'TENANT_SUSPENDED')
      // NOTE: found by its host, a request is at most a write key's: on a `login` route it
      // proves who it is; elsewhere only a user's valid access token of this tenant lets it in.
      request.tenant = {
        id: named.id,
        schemaName: named.schemaName,
        name: named.name,
        keyPrefix: null,
        keyScope: 'write',
        resolvedBy: 'host',
      }
      const access = request.routeOptions.config.hostAccess
      if (access === 'login') return
      if (access === 'registration') {
        if (!named.openRegistration) {
          throw new ForbiddenError(
            'registration is not open at this host name: register with an api key of the tenant',
            'REGISTRATION_CLOSED',
          )
        }
        return
      }
      if (!request.headers.authorization) {
        throw new AuthenticationError(
          "the api-key header is required (at a tenant's host name, an Authorization: Bearer access token of its user will do)",
          'MISSING_API_KEY',
        )
      }
      request.userId = verifiedUserId(request)
    })

    // NOTE: a verified token is kept by its exact text until its exp, so each later request
    // with it costs one cache lookup. fast-jwt's own cache keys each lookup by a SHA-256 of the
    // token (after a base64 decode and three regular expressions), and @fastify/jwt merges
    // options on each call: a lookup by the token's text costs the authenticated route less
    // CPU (bench:api prints the route's figures). The tokens kept are signed with JWT_SECRET,
    // which this process holds anyway; each entry's TTL ends at its token's exp, and the
    // least recently used goes first once full.
    // ttlResolution 0: staleness is read from `now` on each lookup, with no timer per lookup.
    const verifiedTokens = new LRUCache<string, VerifiedToken>({ max: VERIFIED_TOKENS_MAX, ttlResolution: 0, perf: { now } })
    const revokedSessions = app.services.revokedSessions

    function verifyToken(token: string): VerifiedToken {
      const cached = verifiedTokens.get(token)
      if (cached !== undefined) return cached
      let claims: AccessTokenClaims
      try {
        // NOTE: the instance's synchronous verifier (HS256, required claims), not
        // request.jwtVerify(), whose callback waterfall cost a visible share of each request.
        claims = app.jwt.verify<AccessTokenClaims>(token)
      } catch {
        throw tokenRejected()
      }
      const userId = parseId(String(claims.sub))
      if (!Number.isSafeInteger(userId) || !Number.isSafeInteger(claims.tid) || typeof claims.sid !== 'string') throw tokenRejected()
      if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) throw tokenRejected()
      const verified = { userId, tenantId: claims.tid, sessionId: claims.sid, expiresAtMs: claims.exp * 1000 }
      const remainingMs = verified.expiresAtMs - now()
      if (!(remainingMs > 0)) throw tokenRejected()
      // NOTE: lru-cache holds an entry until more than its ttl has passed, so the ttl is a
      // millisecond short of exp: the entry is gone at exp. (A ttl of 0 would mean forever.)
      if (remainingMs > 1) verifiedTokens.set(token, verified, { ttl: remainingMs - 1 })
      return verified
    }

    /** The user id of the request's Bearer token, valid for the request's tenant; throws 401s. */
    function verifiedUserId(request: FastifyRequest): number {
      const tenant = request.tenant
      if (!tenant) throw new AuthenticationError('the api-key header is required', 'MISSING_API_KEY')
      const header = request.headers.authorization
      if (!header) {
        throw new AuthenticationError('an Authorization: Bearer <access token> header is required', 'MISSING_ACCESS_TOKEN')
      }
      // The scheme is case-insensitive (RFC 9110): `bearer` and `BEARER` are Bearer too.
      if (header.length < 8 || header[6] !== ' ' || header.slice(0, 6).toLowerCase() !== 'bearer') throw tokenRejected()
      const token = verifyToken(header.slice(7).trim())
      // A token is good only with an api key of its own tenant.
      if (token.tenantId !== tenant.id) {
        throw new AuthenticationError("this token belongs to another tenant's login", 'TOKEN_TENANT_MISMATCH')
      }
      // NOTE: one Map lookup (none while no login has ended): logout and a reused refresh
      // token end a login here at once, and in every other process by NOTIFY.
      if (revokedSessions.isRevoked(token.sessionId)) throw sessionEnded()
      return token.userId
    }

    // A callback hook, as the check is synchronous: no promise per request.
    app.decorate('requireUser', function requireUser(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
      try {
        request.userId = verifiedUserId(request)
      } catch (error) {
        done(error as Error)
        return
      }
      done()
    })

    app.decorate('signAccessToken', function signAccessToken(userId: number, tenant: ResolvedTenant, sessionId: string) {
      // exp is counted from this iat (the sign option expiresIn).
      return app.jwt.sign({ sub: String(userId), tid: tenant.id, sid: sessionId, iat: Math.floor(now() / 1000) })
    })
  },
  { name: 'auth', dependencies: ['services'] },
)
