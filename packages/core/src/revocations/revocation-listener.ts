import { randomUUID } from 'node:crypto'
import type { Sql } from '../db/sql.js'
import { notifyRevocation, REVOCATION_CHANNEL, type RevocationKind } from './revocation-channel.js'

/**
 * Whether this process hears {@link REVOCATION_CHANNEL}:
 * - `starting`: subscribed (or resubscribed after a reconnect), its own probe not heard yet;
 * - `hearing`: its last probe came back;
 * - `deaf`: a probe sent through the pool did not come back on the listening connection
 *   (behind a transaction-mode pooler LISTEN is lost), or could not be sent.
 */
export type ListenerState = 'starting' | 'hearing' | 'deaf'

export interface ListenerStatus {
  readonly state: ListenerState
  /** Why, when deaf: what was tried and what fixes it. */
  readonly problem: string | undefined
}

export interface RevocationListenerOptions {
  /** The pool: probes go out through it, as every other process's NOTIFYs do. */
  readonly notifySql: Sql
  /** The pool whose dedicated connection LISTENs (DATABASE_LISTEN_URL's, or the main one). */
  readonly listenSql: Sql
  /** One handler per kind of message; the payload is what follows `<kind>:`. */
  readonly handlers: { readonly [kind in Exclude<RevocationKind, 'probe'>]?: (payload: string) => void }
  /**
   * Called on each (re)subscription, before the probe: messages sent while not listening
   * are lost, so whatever they would have evicted must be reset here.
   */
  readonly onSubscribed: () => Promise<void> | void
  /** Called on each change of state (and once `starting` at the first subscription). */
  readonly onStateChange: (status: ListenerStatus) => void
  /** Called every `deafPollIntervalMs` while deaf: the moment to poll the database for what is not heard. */
  readonly onDeafTick?: () => Promise<void> | void
  /** How long a probe may take to come back (default 2000 ms). */
  readonly probeTimeoutMs?: number
  /** Time between probes while hearing (default 5000 ms) and while deaf (default 1000 ms). */
  readonly probeIntervalMs?: number
  readonly deafProbeIntervalMs?: number
  /** Time between calls of `onDeafTick` while deaf (default 500 ms). */
  readonly deafPollIntervalMs?: number
}

export interface RevocationListener {
  status(): ListenerStatus
  /** Messages heard per kind since start (probes included), for metrics. */
  heard(): Readonly<Record<RevocationKind, number>>
  stop(): Promise<void>
}

const DEAF_PROBLEM =
  `this process does not hear its own NOTIFY on ${REVOCATION_CHANNEL}, so revoked keys and ended logins ` +
  'may keep working here: LISTEN does not survive a transaction-mode pooler (PgBouncer). ' +
  'Set DATABASE_LISTEN_URL to a direct connection to PostgreSQL (or a session-mode pool)'

/**
 * The one listener of {@link REVOCATION_CHANNEL} in a process: dispatches each message to
 * its kind's handler, and checks that it really hears the channel. At the first
 * subscription, after each reconnect and then every few seconds it NOTIFYs a probe of its
 * own through the pool and waits for it on the listening connection; when it does not come
 * back the listener turns `deaf` (the caller then stops trusting its caches) and keeps
 * probing until it does. Resolves once the first probe has come back or failed.
 */
export async function startRevocationListener(options: RevocationListenerOptions): Promise<RevocationListener> {
  const probeTimeoutMs = options.probeTimeoutMs ?? 2000
  const intervalMs = options.probeIntervalMs ?? 5000
  const deafIntervalMs = options.deafProbeIntervalMs ?? 1000
  const deafPollIntervalMs = options.deafPollIntervalMs ?? 500
  const instance = randomUUID()
  const heard: Record<RevocationKind, number> = { key: 0, tenant: 0, domain: 0, session: 0, probe: 0 }
  let status: ListenerStatus = { state: 'starting', problem: undefined }
  let probeCount = 0
  let awaiting: { token: string; heard: () => void } | undefined
  let timer: NodeJS.Timeout | undefined
  let deafPoll: NodeJS.Timeout | undefined
  let stopped = false
  let probing: Promise<void> | undefined
  let probeAgain = false
  /** Set on each (re)subscription: `onSubscribed` must succeed before a probe counts. */
  let resetPending = false

  function setStatus(next: ListenerStatus, always = false): void {
    if (!always && next.state === status.state && next.problem === status.problem) return
    status = next
    if (status.state === 'deaf' && !deafPoll && options.onDeafTick) {
      const tick = options.onDeafTick
      deafPoll = setInterval(() => void Promise.resolve(tick()).catch(() => {}), deafPollIntervalMs)
      deafPoll.unref()
    } else if (status.state !== 'deaf') {
      clearInterval(deafPoll)
      deafPoll = undefined
    }
    options.onStateChange(status)
  }

  function onMessage(message: string): void {
    const separator = message.indexOf(':')
    if (separator < 0) return
    const kind = message.slice(0, separator) as RevocationKind
    const payload = message.slice(separator + 1)
    if (kind in heard) heard[kind]++
    if (kind === 'probe') {
      if (awaiting?.token === payload) awaiting.heard()
      return
    }
    // An unknown kind is a newer process's message: ignored, not an error.
    options.handlers[kind]?.(payload)
  }

  /** One probe: NOTIFY through the pool, then wait for it here. */
  async function probeOnce(): Promise<void> {
    if (resetPending) {
      try {
        await options.onSubscribed()
        resetPending = false
      } catch (error) {
        // Tried again at the next probe; until then nothing cached can be trusted.
        setStatus({ state: 'deaf', problem: `cannot reset the caches after (re)subscribing: ${(error as Error).message}` })
        return
      }
    }
    const token = `${instance}:${++probeCount}`
    let timeout: NodeJS.Timeout | undefined
    const cameBack = new Promise<boolean>((resolve) => {
      awaiting = { token, heard: () => resolve(true) }
      timeout = setTimeout(() => resolve(false), probeTimeoutMs)
      timeout.unref()
    })
    try {
      await notifyRevocation(options.notifySql, 'probe', token)
    } catch (error) {
      clearTimeout(timeout)
      awaiting = undefined
      setStatus({ state: 'deaf', problem: `cannot send a NOTIFY to check that revocations are heard: ${(error as Error).message}` })
      return
    }
    const ok = await cameBack
    clearTimeout(timeout)
    awaiting = undefined
    if (stopped) return
    setStatus(ok ? { state: 'hearing', problem: undefined } : { state: 'deaf', problem: DEAF_PROBLEM })
  }

  /** Probes now (once more after the current probe if one is running), then schedules the next. */
  function probe(): Promise<void> {
    if (probing) {
      probeAgain = true
      return probing
    }
    clearTimeout(timer)
    probing = (async () => {
      do {
        probeAgain = false
        await probeOnce()
      } while (probeAgain && !stopped)
    })().finally(() => {
      probing = undefined
      if (stopped) return
      timer = setTimeout(() => void probe(), status.state === 'deaf' ? deafIntervalMs : intervalMs)
      timer.unref()
    })
    return probing
  }

  async function onSubscribed(): Promise<void> {
    setStatus({ state: 'starting', problem: undefined }, true)
    resetPending = true
    await probe()
  }

  let firstSubscription: Promise<void> | undefined
  const subscription = await options.listenSql.listen(
    REVOCATION_CHANNEL,
    onMessage,
    // postgres.js calls this after the first LISTEN and after each re-LISTEN on reconnect.
    () => {
      const subscribed = onSubscribed().catch(() => {})
      firstSubscription ??= subscribed
    },
  )
  await firstSubscription

  return {
    status: () => status,
    heard: () => ({ ...heard }),
    async stop() {
      stopped = true
      clearTimeout(timer)
      clearInterval(deafPoll)
      // A connection already closed has no subscription left to undo.
      await subscription.unlisten().catch(() => {})
    },
  }
}
