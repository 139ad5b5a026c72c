import { fileURLToPath } from 'node:url'
import type { FastifyServerOptions } from 'fastify'

/**
 * Log paths whose values are secrets. The request serializer logs no header and no body,
 * and no route logs a body; these paths are the second lock on the door.
 */
export const REDACTED_PATHS = [
  'req.headers["api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers["api-key"]',
  'headers.authorization',
  'body.password',
  'body.refresh_token',
  'body.access_token',
  '*.password',
  '*.refresh_token',
  '*.access_token',
  'password',
  'apiKey',
  'token',
]

/** pino-pretty's entry point when it is installed (it is an optional dependency). */
function prettyTarget(): string | undefined {
  try {
    return fileURLToPath(import.meta.resolve('pino-pretty'))
  } catch {
    return undefined
  }
}

/**
 * pino options: JSON lines, or readable lines when `pretty` (a terminal) and pino-pretty is
 * installed. `stream` replaces stdout (tests capture the logs with it).
 */
export function loggerOptions(options: {
  level: string
  pretty?: boolean
  stream?: NodeJS.WritableStream
}): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  const base = { level: options.level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }
  if (options.stream) return { ...base, stream: options.stream }
  const target = options.pretty ? prettyTarget() : undefined
  if (target) return { ...base, transport: { target, options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
  return base
}
