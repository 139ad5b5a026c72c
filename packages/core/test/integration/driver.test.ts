import net from 'node:net'
import t, { type Test } from 'tap'
import { createPool } from '../../src/index.js'
import { createTestDatabase } from '../../src/testing.js'

/**
 * postgres.js is patched (patches/postgres@3.4.9.patch), and createPool relies on both parts:
 * - an unnamed statement with parameters used to cost two round trips (Parse and Describe,
 *   wait for the parameter types, then Bind and Execute); when its parameters are strings,
 *   numbers, nulls or of a type inferred from the value, it now goes in one write;
 * - a number for `prepare` bounds the statements each connection prepares; past it, new
 *   statements are sent unnamed.
 *
 * A proxy between the pool and the server counts the pool's writes: the second write of a
 * describing round trip can only follow the server's answer, so it never merges with the first.
 */
async function countingProxy(t: Test, target: URL): Promise<{ url: string; writes(): number }> {
  let writes = 0
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname)
    client.on('data', (chunk) => {
      writes++
      upstream.write(chunk)
    })
    upstream.pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const url = new URL(target)
  url.hostname = '127.0.0.1'
  url.port = String((server.address() as net.AddressInfo).port)
  return { url: url.toString(), writes: () => writes }
}

async function pool(t: Test, preparedStatements: number) {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const proxy = await countingProxy(t, new URL(db.url))
  const sql = createPool(proxy.url, { max: 1, preparedStatements })
  t.teardown(() => sql.end({ timeout: 1 }))
  await sql.unsafe('select 1') // connects; unsafe queries are never prepared
  async function writesOf(query: () => Promise<unknown>): Promise<number> {
    const before = proxy.writes()
    await query()
    return proxy.writes() - before
  }
  return { sql, writesOf }
}

t.test('unprepared: plain parameters are one write, other values still round-trip exactly', async (t) => {
  const { sql, writesOf } = await pool(t, 0)
  let row: Record<string, unknown> | undefined
  t.equal(
    await writesOf(async () => ([row] = await sql`select ${41}::int + 1 as answer, ${'text'} as word, ${null}::text as nothing`)),
    1,
    'numbers, strings and nulls: one write',
  )
  t.same(row, { answer: 42, word: 'text', nothing: null })

  const when = new Date('2026-11-27T12:34:56.789Z')
  t.equal(
    await writesOf(async () => ([row] = await sql`select ${when}::timestamptz as at, ${true} as yes, ${Buffer.from([0, 1, 255])} as bytes`)),
    1,
    'dates, booleans and buffers (types inferred from the value): one write',
  )
  t.same(row, { at: when, yes: true, bytes: Buffer.from([0, 1, 255]) })

  t.equal(
    await writesOf(async () => ([row] = await sql`select ${{ a: [1, 'b'] } as never}::jsonb as doc`)),
    2,
    'an object needs the server to name its type first: two writes, as before',
  )
  t.same(row, { doc: { a: [1, 'b'] } })
  t.same((await sql`select ${sql.array([3, 4])}::int[] as list`)[0], { list: [3, 4] }, 'arrays still serialise')
  t.same(await sql`select name from pg_prepared_statements`, [], 'nothing was prepared')
})

t.test('a connection prepares at most its bound; later statements go unnamed in one write', async (t) => {
  // Three: the driver's own lookup of array types, on connecting, takes the first.
  const { sql, writesOf } = await pool(t, 3)
  const statements = [
    (n: number) => sql`select ${n}::int as n, 'first' as which`,
    (n: number) => sql`select ${n}::int as n, 'second' as which`,
    (n: number) => sql`select ${n}::int as n, 'third' as which`,
  ]
  const useEach = async () => {
    const writes: number[] = []
    for (const [i, statement] of statements.entries()) writes.push(await writesOf(() => statement(i)))
    return writes
  }
  t.same(await useEach(), [2, 2, 1], 'first use: the two prepared ones describe first, the third is unnamed')
  t.same(await useEach(), [1, 1, 1], 'later uses: one write each')
  t.same((await statements[2]!(7))[0], { n: 7, which: 'third' })
  const prepared = await sql`select statement from pg_prepared_statements order by prepare_time`
  t.equal(prepared.length, 3, 'the server holds three prepared statements for this connection')
  t.match(prepared.map((row) => row.statement), [/pg_type/, /'first'/, /'second'/])
})
