import { formatNode, parseNode, type MoveProgress } from '@tenantbase/core'
import type { CommandContext } from '../context.js'

const megabytes = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)

/**
 * `tenantctl move <schema> --to host:port`: moves a tenant's schema to another Citus worker
 * while the tenant keeps being served. A line per phase (and per tenth copied) as it goes.
 */
export async function runMove(ctx: CommandContext, schema: string, flags: { to: string }) {
  const target = parseNode(flags.to)
  // The move holds one connection while another reads its progress.
  const services = await ctx.services({ poolMax: 3 })
  const { output } = ctx
  let shown = ''
  const onProgress = ({ status, copiedBytes, totalBytes }: MoveProgress) => {
    const tenth = totalBytes > 0 ? Math.floor((10 * copiedBytes) / totalBytes) : 0
    if (`${status}/${tenth}` === shown) return
    shown = `${status}/${tenth}`
    output.note(`  ${status.toLowerCase()}: ${megabytes(copiedBytes)} of ${megabytes(totalBytes)} MB`)
  }
  const started = performance.now()
  const moved = await services.citus.moveTenant(schema, target, {
    // Said once the move starts: "not a Citus cluster" or a wrong node is refused before it.
    onStart: (from) => output.note(`Moving ${schema} from ${formatNode(from)} to ${formatNode(target)}; the tenant stays online...`),
    onProgress,
  })
  const seconds = (performance.now() - started) / 1000
  const result = { schema, from: formatNode(moved.from), to: formatNode(moved.to), seconds: Number(seconds.toFixed(2)) }
  if (output.json) output.writeJson(result)
  else output.line(`${output.style.green('✔')} Moved ${schema} from ${result.from} to ${result.to} in ${seconds.toFixed(1)} s.`)
  return result
}
