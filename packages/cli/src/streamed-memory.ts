import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** Bytes of rows between two collections of {@link releasingStreamedBuffers}. */
const RELEASE_EVERY_BYTES = 2 * 1024 * 1024

/**
 * Keeps the memory of a command that streams a tenant's rows (export, import, restore) near
 * the process's own: call the returned function with the bytes streamed so far.
 *
 * Every socket read and every compressed chunk is a new buffer outside V8's heap, freed only
 * when a collection finds its handle dead. Streaming leaves little garbage on the heap, so
 * collections are rare and those buffers pile up until V8's limit for memory outside the heap
 * forces one. A young-generation collection every {@link RELEASE_EVERY_BYTES} of rows frees
 * them as they go; it is cheap, as almost nothing in the young generation is still alive. The
 * collection is reached the way V8 exposes it, by the `--expose-gc` flag, set here rather than
 * on the command line so that `tenantctl` runs as any node program does.
 */
export function releasingStreamedBuffers(): (bytesStreamed: number) => void {
  setFlagsFromString('--expose-gc')
  const collect = runInNewContext('gc') as (options: { type: 'minor' | 'major' }) => void
  let next = RELEASE_EVERY_BYTES
  return (bytesStreamed) => {
    if (bytesStreamed < next) return
    collect({ type: 'minor' })
    next = bytesStreamed + RELEASE_EVERY_BYTES
  }
}

/** A command's `onProgress` that also releases the streamed buffers ({@link releasingStreamedBuffers}). */
export function releasingAsItStreams<S extends { readonly bytes: number }>(onStep: (step: S) => void): (step: S) => void {
  const release = releasingStreamedBuffers()
  return (step) => {
    onStep(step)
    release(step.bytes)
  }
}
