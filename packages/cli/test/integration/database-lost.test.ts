import { createServer, connect, type Socket } from 'node:net'
import t from 'tap'
import { randomSchema, setupDatabase, slowTenantMigrations, startSlowCreation } from '../helpers.js'

// The database going away in the middle of a command: the command says so, naming the
// host and port (never the password), and exits 1.

/** A TCP relay to PostgreSQL that the test can cut, as a network or a server going away does. */
async function startRelay(target: URL): Promise<{ port: number; cut(): void }> {
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {})
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    cut() {
      server.close()
      for (const socket of sockets) socket.destroy()
    },
  }
}

t.test('a database lost during a creation: "database unreachable at host:port", exit 1', async (t) => {
  const dir = await slowTenantMigrations(t)
  const { db } = await setupDatabase(t, { migrationsDir: dir })
  const relay = await startRelay(new URL(db.url))
  t.teardown(() => relay.cut())
  const viaRelay = new URL(db.url)
  viaRelay.host = `127.0.0.1:${relay.port}`
  // The command must hold a password to show it never prints one. A server the url reaches without one trusts the
  // client and never asks for it, so one made up here (or PGPASSWORD, which the driver would send instead) does.
  if (!viaRelay.password) viaRelay.password = encodeURIComponent(process.env.PGPASSWORD || `unprinted-${randomSchema('secret')}`)
  const password = decodeURIComponent(viaRelay.password)
  t.ok(password.length > 0, 'the url carries a password that must not be printed')

  // Once the creation is inside its transaction, at the slow migration:
  const running = await startSlowCreation(db, ['--name', 'Lost', '--address', '', '--schema', randomSchema('lost'), '--json'], {
    DATABASE_URL: viaRelay.href,
    TENANTCTL_MIGRATIONS_DIR: dir,
  })
  const { child } = running
  t.equal(child.exitCode, null, 'the creation was still running')
  const started = Date.now()
  relay.cut()
  const code = await running.exited
  t.comment(`exited ${Date.now() - started} ms after the cut`)
  const [stdout, stderr] = [running.stdout(), running.stderr()]

  t.equal(code, 1, stderr)
  t.match(stderr, new RegExp(`^error: database unreachable at 127\\.0\\.0\\.1:${relay.port}: `), 'names the host and port')
  t.notMatch(stderr, /unexpected error|--verbose/, 'not an unexpected error')
  t.notMatch(stdout + stderr, password, 'never the password')
  const document = JSON.parse(stdout) as { error: { code: string; message: string } }
  t.equal(document.error.code, 'DATABASE_UNAVAILABLE')
  t.match(document.error.message, `database unreachable at 127.0.0.1:${relay.port}`)
  const [row] = await db.sql`select count(*)::int as count from public.tenants`
  t.equal(row!.count, 0, 'nothing half-created')
})
