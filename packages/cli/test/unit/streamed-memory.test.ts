import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { releasingStreamedBuffers } from '../../src/streamed-memory.js'

const MiB = 1024 * 1024

/** Young-generation collections seen while `work` runs. */
async function minorCollectionsDuring(work: () => void): Promise<number> {
  // An empty young generation first (the flag is set by releasingStreamedBuffers), so that
  // none falls due by itself while `work` is watched.
  const collect = runInNewContext('gc') as (options: { type: 'minor' }) => void
  collect({ type: 'minor' })
  await new Promise((resolve) => setTimeout(resolve, 20))
  const seen: PerformanceEntry[] = []
  const observer = new PerformanceObserver((list) => seen.push(...list.getEntries()))
  observer.observe({ entryTypes: ['gc'] })
  work()
  // GC entries are delivered asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 50))
  observer.disconnect()
  return seen.filter((entry) => (entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR).length
}

t.test('a young-generation collection once every 2 MiB streamed, none in between', async (t) => {
  const release = releasingStreamedBuffers()
  t.equal(await minorCollectionsDuring(() => release(1 * MiB)), 0, 'under 2 MiB: none')
  t.equal(await minorCollectionsDuring(() => release(2 * MiB)), 1, 'at 2 MiB: one')
  t.equal(await minorCollectionsDuring(() => release(3 * MiB)), 0, 'one more MiB: none')
  t.equal(await minorCollectionsDuring(() => release(4 * MiB + 1)), 1, 'past the next 2 MiB: one')
})
