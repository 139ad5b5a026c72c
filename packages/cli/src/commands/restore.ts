import path from 'node:path'
import { formatState } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { releasingAsItStreams } from '../streamed-memory.js'

export interface RestoreFlags {
  readonly into: string
  readonly dropPrevious?: boolean
}

/**
 * `tenantctl restore <file> --into <schema>`: an existing tenant back to a bundle's content
 * while it keeps serving. Its replaced content is kept as a schema of its own until a restore
 * with --drop-previous (or DROP SCHEMA) removes it.
 */
export async function runRestore(ctx: CommandContext, file: string, flags: RestoreFlags) {
  const services = await ctx.services()
  const { output } = ctx
  const progress = output.transfer(`Restoring ${flags.into}`)
  let summary
  try {
    summary = await services.bundles.restoreTenant(path.resolve(file), flags.into, {
      dropPrevious: flags.dropPrevious ?? false,
      onProgress: releasingAsItStreams((step) => progress.update(step)),
    })
  } finally {
    progress.stop()
  }
  if (output.json) output.writeJson(summary)
  else {
    output.line(`${output.style.green('✔')} Restored ${summary.schemaName}: ${summary.rows} rows in ${summary.tables.length} tables`)
    output.line(`  migrations: bundle at ${formatState(summary.from)}, now ${formatState(summary.to)}`)
    if (summary.previousSchema)
      output.line(
        `  the replaced content is kept as schema ${summary.previousSchema} until a restore with --drop-previous, or DROP SCHEMA "${summary.previousSchema}" CASCADE`,
      )
    else output.line('  the replaced content was dropped (--drop-previous)')
    for (const name of summary.droppedPrevious) output.line(`  dropped ${name}, kept by an earlier restore`)
  }
  return summary
}
