import path from 'node:path'
import { startEmbeddedCluster } from '@tenantbase/core'
import { freePort } from '@tenantbase/core/testing'

/** The server a bench runs on: `BENCH_DATABASE_URL`'s, else a throwaway embedded cluster in `work`. */
export interface BenchServer {
  /** The server's URL (its `postgres` database). */
  readonly url: string
  /** Whether it is `BENCH_DATABASE_URL`'s (else the embedded cluster). */
  readonly given: boolean
  /** Stops the embedded cluster; nothing for a given server. */
  stop(): Promise<void>
}

export async function openBenchServer(work: string, sharedBuffers: string): Promise<BenchServer> {
  const given = process.env.BENCH_DATABASE_URL
  if (given) return { url: given, given: true, stop: async () => {} }
  const cluster = await startEmbeddedCluster({
    dataDir: path.join(work, 'pg'),
    port: await freePort(),
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
    persistent: false,
    settings: { shared_buffers: sharedBuffers },
  })
  return { url: cluster.url, given: false, stop: () => cluster.stop() }
}
