import ms from 'ms'
import { UsageError } from './errors.js'

/** The forms every duration flag accepts, as its error message shows them. */
export const DURATION_FORMS = 'a whole number and a unit: 90s, 15m, 24h, 30d, 2w or 1y'

const DURATION = /^(\d{1,9})(s|m|h|d|w|y)$/

/** The longest duration taken (so that now + it is a valid date). */
const MAX_DURATION_MS = ms('1000y')

/**
 * Parses a duration flag (`--expires-in`, `--grace`, `--since`) into milliseconds: seconds,
 * minutes, hours, days, weeks or years, one unit, no spaces. `0` is taken only where
 * `allowZero` says so (`--grace 0` revokes at once). Anything else is a usage error naming
 * the accepted forms.
 */
export function parseDuration(flag: string, value: string, options: { allowZero?: boolean } = {}): number {
  const trimmed = value.trim()
  if (options.allowZero && /^0+[smhdwy]?$/.test(trimmed)) return 0
  const duration = DURATION.test(trimmed) ? ms(trimmed as ms.StringValue) : undefined
  if (typeof duration !== 'number' || !Number.isFinite(duration) || duration <= 0 || duration > MAX_DURATION_MS) {
    throw new UsageError(`${flag}: "${value}" is not a duration; use ${DURATION_FORMS}${options.allowZero ? ' (or 0)' : ''}`)
  }
  return duration
}

/** A time span as people read it in a list: 45s, 12m, 23h, 29d (rounded down). */
export function formatSpan(spanMs: number): string {
  const seconds = Math.max(0, Math.floor(spanMs / 1000))
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`
  return `${Math.floor(seconds / 86_400)}d`
}
