import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { Type, type TSchema } from '@sinclair/typebox'
import { asWriteFailure, requestFingerprint, type IdempotentOutcome, type StoredAnswer } from '@tenantbase/core'
import { errorResponses, IDEMPOTENCY_ERRORS, type ApiErrorCode } from '../schemas/errors.js'
import { prepareErrorReply } from './error-handler.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * false: the route does not honour the Idempotency-Key header (its answer holds a secret,
     * such as a token, that must not be stored). Every other write of the API honours it.
     */
    idempotency?: boolean
  }
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/** The headers that belong to an answer, stored and replayed with it. */
const ANSWER_HEADERS = ['content-type', 'location', 'etag', 'last-modified'] as const

/** The request header's schema: documented in the OpenAPI document; its value is checked by core (IDEMPOTENCY_KEY_INVALID). */
const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      description:
        'Makes this write happen once however often it is sent: 1 to 255 printable ASCII characters, new for each write (a random UUID). ' +
        'A repeat with the same key and the same request gets the first answer again, with `Idempotent-Replayed: true`, and writes nothing; ' +
        'with another request, 422 `IDEMPOTENCY_KEY_REUSED`; while the first still runs, it waits for it (409 `IDEMPOTENCY_KEY_IN_USE` ' +
        'after IDEMPOTENCY_WAIT_MS). Keys belong to the caller (the user, else the api key, else the host name) and are kept ' +
        'IDEMPOTENCY_KEY_TTL_SECONDS (24 hours). An error answer is not stored: nothing was written, and a retry runs again.',
    }),
  ),
})

interface Deferred<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((settle) => (resolve = settle))
  return { promise, resolve }
}

/** A keyed request whose handler has answered, its transaction still open until the answer is stored. */
interface PendingWrite {
  /** Resolved by onSend with the answer about to be sent (null: an error, not stored). */
  readonly answer: Deferred<StoredAnswer | null>
  /** The transaction's end: stored and committed, rolled back, or failed. */
  readonly outcome: Promise<IdempotentOutcome>
}

/** Who sent the key: keys of different callers of a tenant never meet. */
function callerScope(request: FastifyRequest): string {
  if (request.userId !== null) return `user:${request.userId}`
  if (request.tenant?.keyPrefix) return `key:${request.tenant.keyPrefix}`
  return `host:${request.host.toLowerCase()}`
}

/** What the request asks for: method, route, path parameters, query and body. */
function fingerprintOf(request: FastifyRequest): string {
  return requestFingerprint([
    request.method,
    request.routeOptions.url ?? request.url,
    JSON.stringify(request.params ?? {}),
    JSON.stringify(request.query ?? {}),
    JSON.stringify(request.body ?? null),
  ])
}

function answerOf(reply: FastifyReply, payload: unknown): StoredAnswer | null {
  if (reply.statusCode >= 400) return null
  const headers: Record<string, string> = {}
  for (const name of ANSWER_HEADERS) {
    const value = reply.getHeader(name)
    if (value !== undefined) headers[name] = String(value)
  }
  const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : null
  return { status: reply.statusCode, headers, body }
}

/** The codes a route's documented error responses already carry (their examples are keyed by code). */
function documentedCodes(response: Record<string, unknown>): ApiErrorCode[] {
  return Object.values(response).flatMap((schema) =>
    Object.keys((schema as { 'x-examples'?: object })['x-examples'] ?? {}),
  ) as ApiErrorCode[]
}

/**
 * The Idempotency-Key header on every write under /api/ (POST, PUT, PATCH, DELETE), the
 * built-in routes and every module's alike: an `onRoute` hook wraps each such route's
 * handler, so a route gets it without doing anything.
 *
 * With a key, the handler runs inside core's `idempotency.runOnce`: one transaction on the
 * tenant's connection in which every `inTenant` call of the request runs, and in which the
 * answer, as onSend is about to send it, is stored before COMMIT. The answer leaves only once
 * COMMIT has answered; when it fails, the answer becomes 503 DATABASE_UNAVAILABLE (not
 * written) or WRITE_OUTCOME_UNKNOWN (lost while committing). Without a key, a lost connection
 * during the handler is WRITE_OUTCOME_UNKNOWN unless nothing was sent (core's asWriteFailure).
 */
export default fp(
  async function idempotency(app: FastifyInstance) {
    const { idempotency } = app.services
    const pending = new WeakMap<FastifyRequest, PendingWrite>()

    async function runKeyed(
      handler: RouteHandlerMethod,
      instance: FastifyInstance,
      request: FastifyRequest,
      reply: FastifyReply,
      key: string,
    ): Promise<unknown> {
      const answer = deferred<StoredAnswer | null>()
      const decided = deferred<{ value: unknown } | { replay: StoredAnswer } | { error: unknown }>()
      const outcome = idempotency.runOnce(
        request.tenant!,
        { scope: callerScope(request), key, fingerprint: fingerprintOf(request) },
        () => {
          // NOTE: an async handler that returns `reply` settles only once the answer is sent (a
          // reply is a thenable), which waits for onSend, which waits for COMMIT: so the work ends
          // with the answer onSend hands over, or with the handler's error, never with its return.
          const running = Promise.resolve(handler.call(instance, request, reply))
          running.then(
            (value) => decided.resolve({ value }),
            () => {},
          )
          return Promise.race([answer.promise, running.then(() => answer.promise)])
        },
      )
      outcome.then(
        (ended) => ended.replayed && decided.resolve({ replay: ended.answer }),
        (error: unknown) => decided.resolve({ error }),
      )
      // Set first: a handler that sends its answer itself reaches onSend before it returns.
      pending.set(request, { answer, outcome })
      const decision = await decided.promise
      if ('value' in decision) return decision.value
      pending.delete(request)
      if ('error' in decision) throw decision.error
      const stored = decision.replay
      return reply.code(stored.status).headers(stored.headers).header('idempotent-replayed', 'true').send(stored.body)
    }

    /** onSend of a route that honours the key: stores the answer and commits before it is sent. */
    async function storeAnswer(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
      const write = pending.get(request)
      if (!write) return payload
      pending.delete(request)
      write.answer.resolve(answerOf(reply, payload))
      try {
        await write.outcome
        return payload
      } catch (error) {
        // Not committed, or not known to be: the answer says which instead.
        for (const name of ANSWER_HEADERS) reply.removeHeader(name)
        return JSON.stringify(prepareErrorReply(error, request, reply))
      }
    }

    /** onResponse: an answer that never passed onSend (a hijacked reply) rolls its transaction back. */
    function abandon(request: FastifyRequest, _reply: FastifyReply, done: () => void) {
      pending.get(request)?.answer.resolve(null)
      pending.delete(request)
      done()
    }

    app.addHook('onRoute', (route: RouteOptions) => {
      const methods = [route.method].flat()
      if (!route.url.startsWith('/api/') || !methods.some((method) => WRITE_METHODS.has(method))) return
      const handler = route.handler
      const withoutKey: RouteHandlerMethod = async function writeWithoutKey(request, reply) {
        try {
          return await handler.call(this, request, reply)
        } catch (error) {
          throw asWriteFailure(error)
        }
      }
      if (route.config?.idempotency === false) {
        route.handler = withoutKey
        return
      }
      route.handler = async function idempotentWrite(request, reply) {
        const key = request.headers['idempotency-key']
        if (key === undefined || request.tenant === null) return withoutKey.call(this, request, reply)
        return runKeyed(handler, this, request, reply, Array.isArray(key) ? key.join(', ') : key)
      }
      route.onSend = [...[route.onSend ?? []].flat(), storeAnswer]
      route.onResponse = [...[route.onResponse ?? []].flat(), abandon]
      const schema = (route.schema ?? {}) as { headers?: TSchema; response?: Record<string, unknown> }
      route.schema = {
        ...schema,
        headers: schema.headers ?? IdempotencyHeaders,
        response: { ...schema.response, ...errorResponses([...documentedCodes(schema.response ?? {}), ...IDEMPOTENCY_ERRORS]) },
      }
    })
  },
  { name: 'idempotency', dependencies: ['services', 'error-handler'] },
)
