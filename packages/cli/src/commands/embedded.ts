import path from 'node:path'
import { inspectEmbeddedCluster, loadConfig, stopEmbeddedPostgres, type EmbeddedClusterState } from '@tenantbase/core'
import type { CliEnvironment, CommandContext } from '../context.js'
import { CliError, EXIT_FAILURE, UsageError } from '../errors.js'

/** The embedded cluster's data folder, or a usage error when the configuration names a server. */
function embeddedDataDir(env: CliEnvironment['env']): string {
  // tenantctl signs no tokens: it needs no JWT_SECRET.
  const { database } = loadConfig(env, { signsTokens: false })
  if (database.mode !== 'embedded') {
    throw new UsageError(
      'DATABASE_URL (or POSTGRES_HOST) is set: tenantctl uses that server and runs no embedded PostgreSQL; stop that server with its own tools',
    )
  }
  return database.dataDir
}

function describe(state: EmbeddedClusterState): string {
  const where = path.relative(process.cwd(), state.dataDir) || state.dataDir
  if (state.pid === undefined) return `the embedded PostgreSQL in ${where} is not running`
  const running = `the embedded PostgreSQL in ${where} runs (pid ${state.pid}, port ${state.port ?? '?'})`
  if (state.orphaned) {
    return (
      `${running}, left behind: the process that started it${state.owner ? ` (pid ${state.owner.pid})` : ''} has ended. ` +
      'Stop it with `tenantctl embedded stop`, or let the next `pnpm start` or tenantctl command adopt it'
    )
  }
  return `${running} for process ${state.owner!.pid}, which stops it when it ends`
}

/** `tenantctl embedded status`: whether the embedded PostgreSQL runs, for whom, and whether it was left behind. */
export function embeddedStatus(env: CliEnvironment['env']) {
  return async (ctx: CommandContext) => {
    const state = await inspectEmbeddedCluster(embeddedDataDir(env))
    const result = { running: state.pid !== undefined, ...state }
    if (ctx.output.json) ctx.output.writeJson(result)
    else ctx.output.line(`${describe(state)}.`)
    return result
  }
}

/**
 * `tenantctl embedded stop [--force]`: a fast shutdown of the embedded PostgreSQL (open
 * connections end, nothing committed is lost). One that a running process (the API) owns is
 * refused without --force: that process would lose its database.
 */
export function embeddedStop(env: CliEnvironment['env']) {
  return async (ctx: CommandContext, flags: { force?: boolean }) => {
    const dataDir = embeddedDataDir(env)
    const state = await inspectEmbeddedCluster(dataDir)
    const { output } = ctx
    if (state.pid === undefined) {
      if (output.json) output.writeJson({ stopped: false, pid: null })
      else output.line(`${describe(state)}: nothing to stop.`)
      return { stopped: false }
    }
    if (!state.orphaned && !flags.force) {
      throw new CliError(
        `${describe(state)}: stop that process (Ctrl-C for \`pnpm start\`), or pass --force to stop the database under it`,
        EXIT_FAILURE,
        'EMBEDDED_IN_USE',
      )
    }
    const pid = await stopEmbeddedPostgres(dataDir)
    if (output.json) output.writeJson({ stopped: pid !== undefined, pid: pid ?? null })
    else output.line(`${output.style.green('✔')} Stopped the embedded PostgreSQL (pid ${pid}); its data stays in ${dataDir}.`)
    return { stopped: true, pid }
  }
}
