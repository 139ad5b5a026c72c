import { isIP } from 'node:net'
import { domainToASCII } from 'node:url'
import { ValidationError } from '../errors.js'

/** The longest host name DNS allows, in characters of its ASCII (punycode) form. */
export const MAX_HOST_NAME_LENGTH = 253
const MAX_LABEL_LENGTH = 63
/**
 * A label of a host name (RFC 1123): letters, digits and inner hyphens; `xn--` labels are
 * punycode. NOTE: inner underscores too, as browsers accept them, so that a schema such as
 * `acme_corp` can be a subdomain of the base domain.
 */
const LABEL = /^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$/

/**
 * A host name as tenant domains store and compare it, or why it is not one: lower case,
 * IDN labels in punycode (`bücher.example` is `xn--bcher-kva.example`), no port, no trailing
 * dot, at least two labels (one with `singleLabel`, for a base domain such as `localhost`), and
 * not an IP address. Pure: no exception, no I/O.
 */
export function parseHostName(input: unknown, options: { singleLabel?: boolean } = {}): { host: string } | { problem: string } {
  if (typeof input !== 'string') return { problem: 'a host name is a string' }
  let text = input.trim()
  if (text.length === 0) return { problem: 'the host name is empty' }
  // Bound the work before any parsing: nothing longer can be a host name, even with a port.
  if (text.length > MAX_HOST_NAME_LENGTH * 4) return { problem: `the host name is longer than ${MAX_HOST_NAME_LENGTH} characters` }
  if (text.startsWith('[')) return { problem: 'an IP address is not a host name' }
  const colon = text.lastIndexOf(':')
  if (colon >= 0) {
    // More than one colon: an IPv6 literal without brackets.
    if (text.indexOf(':') !== colon || isIP(text) !== 0) return { problem: 'an IP address is not a host name' }
    const port = text.slice(colon + 1)
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return { problem: `"${port}" is not a port` }
    text = text.slice(0, colon)
  }
  if (text.endsWith('.')) text = text.slice(0, -1)
  // NOTE: domainToASCII parses a URL's host, so it would cut `a.b/c` to `a.b`: what no host
  // name holds is refused before it.
  if (/[\u0000-\u0020\u007f/\\?#@%<>^|"'`{}[\]]/.test(text)) return { problem: `"${input.trim().slice(0, 100)}" is not a valid host name` }
  if (isIP(text) !== 0) return { problem: 'an IP address is not a host name' }
  // NOTE: the WHATWG URL host parser: lower case, IDNA (UTS #46) to punycode, '' when invalid.
  const ascii = domainToASCII(text)
  if (ascii === '') return { problem: `"${input.trim().slice(0, 100)}" is not a valid host name` }
  if (isIP(ascii) !== 0 || /^[0-9.]+$/.test(ascii)) return { problem: 'an IP address is not a host name' }
  if (ascii.length > MAX_HOST_NAME_LENGTH) return { problem: `the host name is longer than ${MAX_HOST_NAME_LENGTH} characters` }
  const labels = ascii.split('.')
  if (labels.length < 2 && !options.singleLabel) return { problem: 'a host name has at least two labels (example.com, not example)' }
  for (const label of labels) {
    if (label.length === 0) return { problem: 'a host name has no empty label (no "..")' }
    if (label.length > MAX_LABEL_LENGTH) return { problem: `each label of a host name is at most ${MAX_LABEL_LENGTH} characters` }
    if (!LABEL.test(label)) return { problem: `"${label}" is not a host name label: letters, digits and inner hyphens or underscores only` }
  }
  return { host: ascii }
}

/** The normalised host name (see {@link parseHostName}), or a {@link ValidationError} `INVALID_HOST_NAME`. */
export function normaliseHostName(input: unknown): string {
  const parsed = parseHostName(input)
  if ('problem' in parsed) throw new ValidationError(parsed.problem, 'INVALID_HOST_NAME')
  return parsed.host
}
