import { existsSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ConfigError } from '../errors.js'
import { readModuleMigrations, type MigrationSet } from '../migrations/catalog.js'
import { coreModule } from './core-module.js'
import { importTypeScriptConfig } from './typescript-config.js'
import type { TenantbaseConfig, TenantbaseModule } from './module.js'

/** The file names a deployment's declaration may have, in the order they are looked for. */
export const CONFIG_FILE_NAMES = ['tenantbase.config.ts', 'tenantbase.config.mts', 'tenantbase.config.js', 'tenantbase.config.mjs'] as const

const MODULE_NAME = /^[a-z][a-z0-9_]{0,62}$/

/** What a process runs: core and the modules its config declares, in order, with their migrations. */
export interface Deployment {
  /** The config file read, or undefined when there is none (core alone). */
  readonly configFile: string | undefined
  /** Core's module first, then the declared ones in their order. */
  readonly modules: readonly TenantbaseModule[]
  readonly migrations: MigrationSet
}

/**
 * The config file of the deployment: the one `TENANTBASE_CONFIG` names (relative to `cwd`),
 * else the first `tenantbase.config.*` found in `cwd` or a folder above it.
 */
export function findConfigFile(env: Record<string, string | undefined>, cwd: string): string | undefined {
  const named = env.TENANTBASE_CONFIG?.trim()
  if (named) {
    const file = path.resolve(cwd, named)
    if (!existsSync(file)) throw new ConfigError([`TENANTBASE_CONFIG names ${file}, which does not exist`])
    return file
  }
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const found = CONFIG_FILE_NAMES.map((name) => path.join(dir, name)).find((file) => existsSync(file))
    if (found) return found
    if (path.dirname(dir) === dir) return undefined
  }
}

/** Imports a config file. TypeScript: by Node itself where it strips types, else see importTypeScriptConfig. */
async function importConfig(file: string): Promise<unknown> {
  const stripsTypes = Boolean((process.features as { typescript?: string | false }).typescript)
  if (!/\.m?ts$/.test(file) || stripsTypes) return import(pathToFileURL(file).href)
  return importTypeScriptConfig(file)
}

/** Every problem of a declaration at once (as loadConfig reports the environment's). */
function checkConfig(config: unknown, file: string): TenantbaseModule[] {
  if (typeof config !== 'object' || config === null) {
    throw new ConfigError([`${file} must export default defineConfig({ modules: [...] })`])
  }
  const modules = (config as TenantbaseConfig).modules ?? []
  if (!Array.isArray(modules)) throw new ConfigError([`${file}: modules must be a list of modules`])
  const problems: string[] = []
  const seen = new Set<string>(['core'])
  modules.forEach((module: unknown, index) => {
    const name = (module as TenantbaseModule | undefined)?.name
    if (typeof module !== 'object' || module === null || typeof name !== 'string') {
      problems.push(`${file}: modules[${index}] is not a module (defineModule({ name, migrations, ... }))`)
    } else if (!MODULE_NAME.test(name)) {
      problems.push(`${file}: module name "${name}" must be lower-case letters, digits and _, starting with a letter (at most 63)`)
    } else if (seen.has(name)) {
      problems.push(`${file}: module "${name}" is declared twice${name === 'core' ? ' (core is always there: do not declare it)' : ''}`)
    } else {
      seen.add(name)
    }
  })
  if (problems.length > 0) throw new ConfigError(problems)
  return modules as TenantbaseModule[]
}

/**
 * Reads the deployment every entry point runs (the API, `tenantctl`, the tests' harness,
 * the benches): core, then the modules of its config file, with every module's migrations.
 * Without a config file, core alone.
 */
export async function loadDeployment(
  options: { env?: Record<string, string | undefined>; cwd?: string; configFile?: string } = {},
): Promise<Deployment> {
  const configFile = options.configFile ?? findConfigFile(options.env ?? process.env, options.cwd ?? process.cwd())
  let declared: TenantbaseModule[] = []
  if (configFile !== undefined) {
    let exported: { default?: unknown }
    try {
      exported = (await importConfig(configFile)) as { default?: unknown }
    } catch (error) {
      throw new ConfigError([`cannot load ${configFile}: ${(error as Error).message}`])
    }
    declared = checkConfig(exported.default, configFile)
  }
  const modules = [coreModule, ...declared]
  return { configFile, modules, migrations: await readModuleMigrations(modules) }
}
