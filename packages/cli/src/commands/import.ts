import path from 'node:path'
import { formatState } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { releasingAsItStreams } from '../streamed-memory.js'

export interface ImportFlags {
  readonly schema?: string
  readonly name?: string
  readonly withKeys?: boolean
  readonly withDomains?: boolean
}

/**
 * `tenantctl import <file> [--schema s] [--name n]`: a new tenant from a bundle, in one
 * transaction, migrated to this deployment's newest state.
 */
export async function runImport(ctx: CommandContext, file: string, flags: ImportFlags) {
  const services = await ctx.services()
  const { output } = ctx
  const progress = output.transfer('Importing')
  let summary
  try {
    summary = await services.bundles.importTenant(path.resolve(file), {
      ...(flags.schema !== undefined && { schemaName: flags.schema }),
      ...(flags.name !== undefined && { name: flags.name }),
      withKeys: flags.withKeys ?? false,
      withDomains: flags.withDomains ?? false,
      onProgress: releasingAsItStreams((step) => progress.update(step)),
    })
  } finally {
    progress.stop()
  }
  if (output.json) output.writeJson(summary)
  else {
    output.line(
      `${output.style.green('✔')} Imported "${summary.name}" as ${summary.schemaName}: ${summary.rows} rows in ${summary.tables.length} tables` +
        (flags.withKeys ? `, ${summary.apiKeys} api keys` : ' (no api keys: create one with `tenantctl keys create`)'),
    )
    if (flags.withDomains) output.line(`  domains: ${summary.domains.length > 0 ? summary.domains.join(', ') : 'none'}`)
    output.line(`  migrations: ${formatState(summary.from)} -> ${formatState(summary.to)}`)
  }
  return summary
}
