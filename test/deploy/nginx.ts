/**
 * The deployment tests' servers: API processes built from packages/api/dist, and Debian's nginx
 * running the project's own template (rendered for loopback, as the nginx image renders it for
 * compose) in front of them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { freePort } from '@tenantbase/core/testing'

export const root = fileURLToPath(new URL('../../', import.meta.url))
// Debian puts nginx in /usr/sbin, which a non-login PATH may lack.
export const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx'

/** `${NAME}` filled from `vars`, like the nginx image's envsubst step; nginx's `$vars` untouched. */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (match, name: string) => vars[name] ?? match)
}

export async function waitForHttp(url: string, child?: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child && child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`)
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`${url} did not come up`)
}

/**
 * `count` API processes on free ports with `env`, ready (`/readyz`), killed when `t` ends. With
 * `metricsPerTenant`, each serves its metrics on a port of its own (`metricsPorts`), counting
 * that many tenants' requests apart: where a tenant's requests went.
 */
export async function startApiProcesses(
  t: Test,
  count: number,
  env: NodeJS.ProcessEnv,
  { metricsPerTenant }: { metricsPerTenant?: number } = {},
): Promise<{ ports: number[]; metricsPorts: number[]; processes: ChildProcess[] }> {
  const ports: number[] = []
  const metricsPorts: number[] = []
  for (let i = 0; i < count; i++) ports.push(await freePort())
  if (metricsPerTenant !== undefined) for (let i = 0; i < count; i++) metricsPorts.push(await freePort())
  const processes = ports.map((port, i) => {
    const metrics =
      metricsPerTenant === undefined ? {} : { METRICS_PORT: String(metricsPorts[i]), METRICS_PER_TENANT: String(metricsPerTenant) }
    const child = spawn(process.execPath, [path.join(root, 'packages/api/dist/server.js')], {
      env: { ...env, PORT: String(port), ...metrics },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    t.teardown(() => void child.kill('SIGKILL'))
    return child
  })
  await Promise.all(ports.map((port, i) => waitForHttp(`http://127.0.0.1:${port}/readyz`, processes[i])))
  return { ports, metricsPorts, processes }
}

/** nginx with the project's template in front of `apiPorts`, on a free port, stopped when `t` ends. */
export async function startNginx(t: Test, apiPorts: readonly number[], { baseDomain }: { baseDomain: string }) {
  const dir = t.testdir()
  const port = await freePort()
  const template = await readFile(path.join(root, 'nginx/templates/default.conf.template'), 'utf8')
  const site = renderTemplate(template, {
    NGINX_PORT: `127.0.0.1:${port}`,
    TENANT_BASE_DOMAIN: baseDomain,
    API_UPSTREAM_SERVERS: apiPorts.map((apiPort) => `server 127.0.0.1:${apiPort} max_fails=1 fail_timeout=5s;`).join('\n    '),
  })
  t.notMatch(site, /\$\{[A-Z_]+\}/, 'every template variable filled')
  await mkdir(path.join(dir, 'temp'))
  await writeFile(path.join(dir, 'site.conf'), site)
  await writeFile(
    path.join(dir, 'nginx.conf'),
    `daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/temp/body;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
  include ${dir}/site.conf;
}
`,
  )
  const nginx = spawn(NGINX, ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'inherit'] })
  t.teardown(() => void nginx.kill('SIGQUIT'))
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/healthz`, nginx)
  return { port, url, process: nginx }
}
