import { gunzipSync, gzipSync } from 'node:zlib'
import t from 'tap'
import { ValidationError } from '../../src/errors.js'
import { asBundleError } from '../../src/tenant-bundles/load-bundle.js'

/** zlib's own error for `bytes`, as gunzip throws it. */
function zlibErrorOf(bytes: Buffer): Error {
  try {
    gunzipSync(bytes)
  } catch (error) {
    return error as Error
  }
  throw new Error('gunzip accepted the bytes')
}

t.test("zlib's errors become bundle errors wherever they are carried", async (t) => {
  const whole = gzipSync(Buffer.from('tenantbase bundle '.repeat(1000)))
  const truncated = zlibErrorOf(whole.subarray(0, whole.length - 20))
  const damaged = zlibErrorOf(Buffer.concat([whole.subarray(0, 10), Buffer.alloc(40, 7)]))
  for (const [label, error, code] of [
    ['truncated', truncated, 'BUNDLE_TRUNCATED'],
    ['damaged', damaged, 'BUNDLE_INVALID'],
    ['truncated, as the cause of another error', new Error('the COPY failed', { cause: truncated }), 'BUNDLE_TRUNCATED'],
    ['truncated, among aggregated errors', new AggregateError([new Error('premature close'), truncated], 'two errors'), 'BUNDLE_TRUNCATED'],
  ] as const) {
    const mapped = asBundleError(error)
    t.ok(mapped instanceof ValidationError, `${label}: a bundle error`)
    t.equal((mapped as ValidationError).code, code, label)
  }
  const other = new Error('connection lost')
  t.equal(asBundleError(other), other, 'any other error is itself')
})
