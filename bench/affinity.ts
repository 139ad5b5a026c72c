/**
 * Two API processes behind the project's nginx template, with and without tenant-affine
 * routing (`hash $tenantbase_affinity consistent`, or nginx's round robin with that line
 * taken out), alternating: a start on fresh processes (every tenant's first STARTING requests
 * through nginx, in a random order: with round robin a tenant's second request meets a process
 * that has not served it yet), then a random tenant each request, and the server memory of
 * both processes' pools at the end. Runs on a database `bench:scale --keep` grew
 * (its bulk fixture's tenants, whose keys it knows).
 *
 *   DATABASE_URL=<kept bench:scale database> node --import tsx bench/affinity.ts [--seconds 5] [--rounds 2] [--connections 32]
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { freePort } from '@tenantbase/core/testing'
import { backendMemoryMiB } from './backend-memory.js'
import { startServerProcess, stopServerProcess } from './server-processes.js'
import { accessToken, drawn, keptTenants, namedUrl, once, run, type LoadFigures, type Request } from './tenant-loads.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
  },
})
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = Number(values.connections)
const url = process.env.DATABASE_URL
if (!url || !(SECONDS > 0) || !(ROUNDS >= 1) || !(CONNECTIONS >= 1)) {
  console.error(
    'usage: DATABASE_URL=<a database grown by bench:scale --keep> node --import tsx bench/affinity.ts [--seconds S] [--rounds R] [--connections C]',
  )
  process.exit(2)
}
const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx'
const JWT_SECRET = 'bench-affinity-secret-that-is-at-least-32-bytes'
const TEMPLATE = new URL('../nginx/templates/default.conf.template', import.meta.url)
const HASH_LINE = /^\s*hash \$tenantbase_affinity consistent;\n/m
/** Requests per tenant in the start phase. */
const STARTING = 3

const admin = postgres(url, { max: 1, onnotice: () => {} })
const registry = await keptTenants(admin)
const requests: Request[] = registry.map((t) => ({
  headers: { 'api-key': t.key, authorization: `Bearer ${accessToken(JWT_SECRET, t.userId, t.id)}` },
}))
console.log(
  `${registry.length} tenants, 2 API processes behind nginx, ${CONNECTIONS} connections; load ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`,
)

interface Sample {
  readonly cold: LoadFigures
  readonly warm: LoadFigures
  readonly memoryMiB: number
}

/** Starts two API processes and nginx in front of them, measures, and stops them all. */
async function measure(affine: boolean, round: number): Promise<Sample> {
  const applicationName = `bench_affinity_${affine ? 'on' : 'off'}_${round}`
  const env = { ...process.env, DATABASE_URL: namedUrl(url!, applicationName), JWT_SECRET, LOG_LEVEL: 'warn' }
  const apis = [await startServerProcess('api', [], env), await startServerProcess('api', [], env)]
  const dir = await mkdtemp(path.join(tmpdir(), 'tenantbase-bench-affinity-'))
  const port = await freePort()
  const template = await readFile(TEMPLATE, 'utf8')
  const vars: Record<string, string> = {
    NGINX_PORT: `127.0.0.1:${port}`,
    TENANT_BASE_DOMAIN: 'bench.test',
    API_UPSTREAM_SERVERS: apis.map((api) => `server ${new URL(api.url).host};`).join('\n    '),
  }
  const site = (affine ? template : template.replace(HASH_LINE, '')).replace(
    /\$\{([A-Z_]+)\}/g,
    (match, name: string) => vars[name] ?? match,
  )
  await mkdir(path.join(dir, 'temp'))
  await writeFile(path.join(dir, 'site.conf'), site)
  await writeFile(
    path.join(dir, 'nginx.conf'),
    `daemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nevents { worker_connections 1024; }\n` +
      `http { access_log off; client_body_temp_path ${dir}/temp/body; proxy_temp_path ${dir}/temp/proxy; ` +
      `fastcgi_temp_path ${dir}/temp/fastcgi; uwsgi_temp_path ${dir}/temp/uwsgi; scgi_temp_path ${dir}/temp/scgi; include ${dir}/site.conf; }\n`,
  )
  const nginx = spawn(NGINX, ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'inherit'] })
  try {
    const proxy = `http://127.0.0.1:${port}/api/posts/`
    for (let i = 0; ; i++) {
      const status = await fetch(proxy, { headers: requests[0]!.headers }).then(
        (r) => r.status,
        () => 0,
      )
      if (status === 200) break
      if (i > 100) throw new Error(`nginx did not answer 200 (${status})`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const order = Array.from({ length: STARTING }, () => requests)
      .flat()
      .sort(() => Math.random() - 0.5)
    const cold = await run(once(proxy, order, CONNECTIONS))
    const warm = await run(drawn(proxy, () => requests[Math.floor(Math.random() * requests.length)]!, CONNECTIONS, { duration: SECONDS }))
    const memoryMiB = await backendMemoryMiB(admin, applicationName)
    console.log(
      `  round ${round} ${affine ? 'affine     ' : 'round robin'}  start ${cold.rps.toFixed(0)} req/s p50 ${cold.p50} ms p99 ${cold.p99} ms; ` +
        `warm ${warm.rps.toFixed(0)} req/s p50 ${warm.p50} ms p99 ${warm.p99} ms; pools' server memory ${memoryMiB.toFixed(0)} MiB` +
        `${cold.errors + warm.errors ? `; ${cold.errors + warm.errors} errors` : ''} (load ${loadavg()[0]!.toFixed(2)})`,
    )
    return { cold, warm, memoryMiB }
  } finally {
    nginx.kill('SIGQUIT')
    await Promise.all(apis.map(stopServerProcess))
    await rm(dir, { recursive: true, force: true })
  }
}

const samples: Record<'on' | 'off', Sample[]> = { on: [], off: [] }
for (let round = 1; round <= ROUNDS; round++) {
  for (const affine of round % 2 ? [true, false] : [false, true]) samples[affine ? 'on' : 'off'].push(await measure(affine, round))
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!
const row = (name: string, list: Sample[]) =>
  `| ${name} | ${median(list.map((s) => s.cold.rps)).toFixed(0)}, ${median(list.map((s) => s.cold.p99))} ms | ` +
  `${median(list.map((s) => s.warm.rps)).toFixed(0)}, ${median(list.map((s) => s.warm.p99))} ms | ${median(list.map((s) => s.memoryMiB)).toFixed(0)} MiB |`
const ratio = (pick: (s: Sample) => number) => median(samples.on.map((s, i) => pick(s) / pick(samples.off[i]!))).toFixed(2)
console.log(
  `\n${registry.length} tenants, two API processes behind nginx, ${ROUNDS} rounds alternating (medians); load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}:\n`,
)
console.log(
  `| routing | start (each tenant's first ${STARTING} requests): req/s, p99 | then warm, random tenant: req/s, p99 | server memory of both pools |`,
)
console.log('| --- | --- | --- | ---: |')
console.log(row('tenant-affine (`hash ... consistent`)', samples.on))
console.log(row('round robin', samples.off))
console.log(`| affine / round robin | ${ratio((s) => s.cold.rps)} | ${ratio((s) => s.warm.rps)} | ${ratio((s) => s.memoryMiB)} |`)
await admin.end()
