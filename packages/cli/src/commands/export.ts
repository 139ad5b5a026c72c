import path from 'node:path'
import { formatState } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { releasingAsItStreams } from '../streamed-memory.js'
import { UsageError } from '../errors.js'
import { formatBytes } from '../output.js'

export interface ExportFlags {
  readonly output?: string
  readonly withKeys?: boolean
  readonly withDomains?: boolean
}

/**
 * `tenantctl export <schema> [-o file]`: one tenant to a bundle file, read in one snapshot
 * while it keeps serving. The file appears whole or not at all.
 */
export async function runExport(ctx: CommandContext, schema: string, flags: ExportFlags) {
  const file = path.resolve(flags.output ?? `${schema}.tenant.gz`)
  if (file.endsWith(path.sep)) throw new UsageError('-o must name a file')
  const services = await ctx.services()
  const { output } = ctx
  const progress = output.transfer(`Exporting ${schema}`)
  let summary
  try {
    summary = await services.bundles.exportTenant(schema, file, {
      withKeys: flags.withKeys ?? false,
      withDomains: flags.withDomains ?? false,
      onProgress: releasingAsItStreams((step) => progress.update(step)),
    })
  } finally {
    progress.stop()
  }
  if (output.json) output.writeJson(summary)
  else
    output.line(
      `${output.style.green('✔')} Exported ${schema} (${formatState(summary.migrations)}): ${summary.rows} rows in ${summary.tables.length} tables, ` +
        `${formatBytes(summary.bytes)} as ${formatBytes(summary.compressedBytes)} to ${summary.file}` +
        (flags.withKeys ? `, with ${summary.apiKeys} api key hashes` : '') +
        (flags.withDomains ? `, with ${summary.domains} domains` : ''),
    )
  return summary
}
