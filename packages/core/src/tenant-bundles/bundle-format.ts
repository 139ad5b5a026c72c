import { ValidationError } from '../errors.js'

/**
 * A tenant bundle, inside one gzip stream:
 *
 * 1. the magic line {@link BUNDLE_MAGIC};
 * 2. one frame holding the manifest as JSON;
 * 3. per table of the manifest, in its order: frames of `COPY ... TO STDOUT` text, then an
 *    empty frame.
 *
 * A frame is a 4-byte big-endian length, then that many bytes. Nothing may follow the last
 * table's empty frame.
 */
export const BUNDLE_MAGIC = Buffer.from('TENANTBASE BUNDLE\n', 'ascii')

/**
 * The version of the bundle format this code writes and reads. Fields added since (`domains`,
 * `tenant.openRegistration`) are optional: a bundle without them is still version 1.
 */
export const BUNDLE_FORMAT_VERSION = 1

/** The largest manifest a reader accepts. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024
/** The largest frame a reader accepts: a writer never makes one over {@link FRAME_TARGET_BYTES}. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024
/** The size a writer gathers rows into before it writes a frame. */
export const FRAME_TARGET_BYTES = 256 * 1024

const invalid = (message: string, code = 'BUNDLE_INVALID') => new ValidationError(message, code)

/** A frame: its 4-byte length, then its bytes. */
export function frame(bytes: Buffer): Buffer[] {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(bytes.length)
  return bytes.length === 0 ? [length] : [length, bytes]
}

/**
 * Reads a bundle's decompressed bytes exactly as asked, holding at most one frame (and the
 * chunk it arrived in) in memory.
 */
export class BundleReader {
  private readonly source: AsyncIterator<Buffer>
  private pending: Buffer[] = []
  private pendingBytes = 0
  /** Decompressed bytes consumed so far. */
  bytesRead = 0

  constructor(source: AsyncIterable<Buffer>) {
    this.source = source[Symbol.asyncIterator]()
  }

  /** Whether the stream has more bytes. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1))
  }

  private async fill(bytes: number): Promise<boolean> {
    while (this.pendingBytes < bytes) {
      const next = await this.source.next()
      if (next.done) return false
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value)
      this.pending.push(chunk)
      this.pendingBytes += chunk.length
    }
    return true
  }

  /** Exactly `bytes` bytes, or a truncated-bundle error. */
  async read(bytes: number, what: string): Promise<Buffer> {
    if (!(await this.fill(bytes))) throw invalid(`the bundle is truncated: it ends inside ${what}`, 'BUNDLE_TRUNCATED')
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending)
    const out = all.subarray(0, bytes)
    const rest = all.subarray(bytes)
    this.pending = rest.length > 0 ? [rest] : []
    this.pendingBytes = rest.length
    this.bytesRead += bytes
    return out
  }

  /** One frame's bytes (empty for an end-of-table frame). */
  async readFrame(what: string, max = MAX_FRAME_BYTES): Promise<Buffer> {
    const length = (await this.read(4, what)).readUInt32BE(0)
    if (length > max) throw invalid(`the bundle is invalid: ${what} claims ${length} bytes, more than the ${max} allowed`)
    return length === 0 ? Buffer.alloc(0) : this.read(length, what)
  }

  /** The magic line, then the manifest's JSON (for bundle-manifest.ts's parseManifest). */
  async readManifestBytes(): Promise<Buffer> {
    if (!(await this.fill(BUNDLE_MAGIC.length)) || !(await this.read(BUNDLE_MAGIC.length, 'its header')).equals(BUNDLE_MAGIC)) {
      throw invalid('not a tenant bundle: it does not start with the bundle header')
    }
    return this.readFrame('the manifest', MAX_MANIFEST_BYTES)
  }

  /** A table's rows as COPY text, frame by frame, up to its empty frame. */
  async *tableData(table: string): AsyncGenerator<Buffer> {
    for (;;) {
      const bytes = await this.readFrame(`the rows of ${table}`)
      if (bytes.length === 0) return
      yield bytes
    }
  }
}
