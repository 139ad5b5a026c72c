import path from 'node:path'
import type { Config, Database, Services } from '@tenantbase/core'
import { CliError, NotMigratedError } from './errors.js'
import { createOutput, type Output, type OutputStream } from './output.js'
import type { Prompter } from './prompts.js'

/** The process around the cli: bin.ts passes the real one, tests their own. */
export interface CliEnvironment {
  readonly env: Record<string, string | undefined>
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean }
  readonly stdout: OutputStream & NodeJS.WritableStream
  readonly stderr: OutputStream & NodeJS.WritableStream
  /** Called with a closer for each resource opened, so an interrupt can release it at once. */
  readonly track?: (close: () => Promise<void>) => () => void
  /** Rejects with an error that escaped every await (bin.ts: an uncaught exception), failing the running command. */
  readonly escaped?: Promise<never>
}

/** Options every command accepts. */
export interface GlobalOptions {
  readonly json?: boolean
  readonly verbose?: boolean
  /** A folder standing in for core's own migrations (tests of a base upgrade). */
  readonly migrationsDir?: string
  /** The deployment's config file (else TENANTBASE_CONFIG, else tenantbase.config.* found from the working folder up). */
  readonly config?: string
  /** Who is acting, for the audit log (else TENANTCTL_ACTOR, else the OS user@host). */
  readonly actor?: string
}

/** What a command receives. */
export interface CommandContext {
  readonly output: Output
  /** Undefined without a terminal: the command must then have every flag it needs. */
  readonly prompts: Prompter | undefined
  /** Core's services on the configured database, opened on first call. */
  services(options?: { poolMax?: number }): Promise<Services>
}

/** What the program needs beyond a command's context. */
export interface OwnedContext extends CommandContext {
  /** `error` as it should be reported: a lost connection becomes "database unreachable at host:port". */
  explain(error: unknown): Promise<unknown>
  /** Releases the database it opened, if any; `now` ends its connections without waiting for their queries. */
  close(options?: { now?: boolean }): Promise<void>
}

/** Builds a command's context; its `close()` releases the database it opened, if any. */
export async function createContext(environment: CliEnvironment, options: GlobalOptions): Promise<OwnedContext> {
  const json = options.json ?? false
  const output = createOutput({ stdout: environment.stdout, stderr: environment.stderr, env: environment.env, json })
  // Prompts go to stderr under --json so stdout carries only the JSON document.
  const promptOutput = json ? environment.stderr : environment.stdout
  const interactive = Boolean(environment.stdin.isTTY) && Boolean(promptOutput.isTTY)
  const prompts = interactive
    ? (await import('./prompts.js')).createTerminalPrompter({ input: environment.stdin, output: promptOutput })
    : undefined

  let opened: { database: Database; services: Services; untrack: () => void } | undefined
  const core = () => import('@tenantbase/core')

  return {
    output,
    prompts,
    async services(serviceOptions = {}) {
      if (opened) return opened.services
      const { loadConfig, openDatabase, createServices, loadDeployment, readModuleMigrations } = await core()
      // tenantctl signs no tokens: it needs no JWT_SECRET.
      const config: Config = loadConfig(environment.env, { signsTokens: false })
      // Every module the deployment declares, so that create, migrate and status agree with the API.
      const deployment = await loadDeployment({ env: environment.env, ...(options.config && { configFile: path.resolve(options.config) }) })
      const migrations = options.migrationsDir
        ? await readModuleMigrations([{ name: 'core', migrations: options.migrationsDir }, ...deployment.modules.slice(1)])
        : deployment.migrations
      const database = await openDatabase(config.database, {
        max: Math.max(serviceOptions.poolMax ?? 4, 2),
      })
      const adopted = database.embedded?.adopted
      if (adopted) {
        // On stderr: stdout carries the command's answer (and under --json, only that).
        environment.stderr.write(
          `note: the embedded PostgreSQL (pid ${adopted.pid}) was left running by a process that ended without stopping it` +
            `${adopted.previousOwnerPid ? ` (pid ${adopted.previousOwnerPid})` : ''}; this command adopted it and stops it when done\n`,
        )
      }
      const untrack =
        environment.track?.(async () => {
          // An interrupt: end connections now, so an open transaction rolls back.
          await database.sql.end({ timeout: 0 })
          await database.close()
        }) ?? (() => {})
      try {
        const actor = options.actor ?? (environment.env.TENANTCTL_ACTOR || undefined)
        const services = await createServices({
          sql: database.sql,
          config,
          migrations,
          ...(actor !== undefined && { actor }),
        })
        opened = { database, services, untrack }
        return services
      } catch (error) {
        untrack()
        await database.close()
        throw error
      }
    },
    async explain(error) {
      // The cli's own errors (a usage error, a no at a confirmation) are never the database's;
      // nor is anything when no database is open (it is explained before the release).
      if (!opened || error instanceof CliError) return error
      const { CoreError, explainDatabaseError, formatState } = await core()
      const explained = await explainDatabaseError(error, opened.database)
      if (explained !== error || error instanceof CoreError) return explained
      // An error nobody anticipated from a database that answers: before the first
      // `migrate` it is a missing table ("relation public.tenants does not exist").
      const { state, latest, pending } = await opened.services.sharedSchemaState()
      return pending.length > 0 ? new NotMigratedError(formatState(state), formatState(latest)) : error
    },
    async close(closeOptions = {}) {
      if (!opened) return
      const { database, untrack } = opened
      opened = undefined
      untrack()
      if (closeOptions.now) await database.sql.end({ timeout: 0 })
      await database.close()
    },
  }
}
