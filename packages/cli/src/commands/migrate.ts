import { formatState, type MigrateAllReport, type MigrationProgress } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { CommandFailedError } from '../errors.js'
import { DEFAULT_CONCURRENCY } from '../option-parsers.js'

export interface MigrateFlags {
  /** Tenants migrated at once (parsed by the option, 1 to 64). */
  readonly concurrency?: number
  readonly schema?: readonly string[]
  readonly dryRun?: boolean
}

/**
 * `tenantctl migrate`: the shared schema, then every tenant that is behind. A bar in a
 * terminal, a line per tenant otherwise; then a summary naming each failed schema.
 */
export async function runMigrate(ctx: CommandContext, flags: MigrateFlags): Promise<MigrateAllReport> {
  const concurrency = flags.concurrency ?? DEFAULT_CONCURRENCY
  const schemas = flags.schema && flags.schema.length > 0 ? [...new Set(flags.schema)] : undefined
  const dryRun = flags.dryRun ?? false
  const { output } = ctx
  const s = output.style
  // Each tenant in flight holds a connection, and the migration lock holds one more.
  const services = await ctx.services({ poolMax: concurrency + 2 })
  const progress = output.progress(dryRun ? 'checking' : 'migrating')

  const onProgress = (event: MigrationProgress) => {
    switch (event.type) {
      case 'waiting-for-lock':
        output.note('Another migration is running; waiting for it to finish...')
        break
      case 'shared-done': {
        const [from, to] = [formatState(event.report.from), formatState(event.report.to)]
        output.note(
          from === to ? `shared schema: up to date at ${to}` : `shared schema: ${dryRun ? 'would migrate' : 'migrated'} ${from} -> ${to}`,
        )
        break
      }
      case 'tenants-found':
        output.note(
          event.total === 0
            ? `tenants: ${event.upToDate} up to date, none behind`
            : `tenants: ${event.total} behind${dryRun ? '' : ', migrating'} (${event.upToDate} up to date${dryRun ? '' : `, concurrency ${concurrency}`})`,
        )
        if (!dryRun) progress.start(event.total)
        break
      case 'tenant-done':
        progress.itemDone({ ...event.report, from: formatState(event.report.from), to: formatState(event.report.to) }, event)
        break
    }
  }

  let report: MigrateAllReport
  try {
    report = await services.migrateAll({ concurrency, dryRun, onProgress, ...(schemas && { schemas }) })
  } finally {
    progress.stop()
  }

  const failed = report.tenants.filter((t) => !t.ok)
  if (output.json) {
    output.writeJson(report)
  } else if (dryRun) {
    for (const item of report.pending) output.line(`  ${item.schema}: ${item.migrations.join(', ')}`)
    output.line(
      report.pending.length === 0
        ? s.green('Nothing to migrate.')
        : `${report.pending.length} tenant${report.pending.length === 1 ? '' : 's'} would be migrated to ${formatState(report.latestTenantState)} (dry run: nothing applied).`,
    )
  } else {
    const migrated = report.tenants.length - failed.length
    output.line(
      `${failed.length > 0 ? s.red('✖') : s.green('✔')} ${migrated} migrated to ${formatState(report.latestTenantState)}, ` +
        `${failed.length} failed, ${report.upToDate} already up to date`,
    )
    for (const item of failed) output.line(`  ${s.red('✖')} ${item.schema}: ${item.error ?? 'failed'}`)
    if (report.ahead.length > 0) {
      output.line(
        s.yellow(
          `  ${report.ahead.length} tenant${report.ahead.length === 1 ? ' has' : 's have'} migrations no file here has (${report.ahead.join(', ')}): see \`tenantctl doctor\``,
        ),
      )
    }
  }
  if (failed.length > 0) {
    throw new CommandFailedError(
      `${failed.length} tenant schema${failed.length === 1 ? '' : 's'} failed to migrate: ${failed.map((t) => t.schema).join(', ')}`,
    )
  }
  return report
}
