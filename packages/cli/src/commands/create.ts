import {
  MAX_KEY_NAME_LENGTH,
  MAX_SCHEMA_NAME_BYTES,
  MAX_TENANT_NAME_LENGTH,
  schemaNameProblem,
  suggestSchemaName,
  ConflictError,
  NotFoundError,
  formatState,
  type IssuedApiKey,
  type Tenant,
} from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { CancelledError, UsageError } from '../errors.js'
import { formatTime } from '../output.js'

export interface CreateFlags {
  readonly name?: string
  readonly address?: string
  readonly schema?: string
  readonly keyName?: string
  readonly domain?: readonly string[]
}

const REQUIRED = [
  ['name', '--name'],
  ['address', '--address'],
  ['schema', '--schema'],
] as const

/**
 * `tenantctl create`: with a terminal, asks for whatever flag is missing (schema name
 * suggested from the name, free of other tenants; its shape checked as typed, whether it
 * is taken when entered; a taken tenant name refused at its prompt), shows a summary and asks to confirm.
 * With every flag it asks nothing; without a terminal and a flag missing it is a usage error.
 * The tenant, its schema and its first key are created in one transaction by core.
 */
export async function runCreate(
  ctx: CommandContext,
  flags: CreateFlags,
): Promise<{ tenant: Tenant; apiKey: IssuedApiKey; domains: string[] }> {
  const missing = REQUIRED.filter(([key]) => flags[key] === undefined).map(([, flag]) => flag)
  const { prompts, output } = ctx
  if (missing.length > 0 && !prompts) {
    throw new UsageError(
      `missing ${missing.join(', ')}: without a terminal to ask, create needs --name, --address and --schema ` +
        '(see tenantctl create --help)',
    )
  }
  // A flag given is final: refuse a bad one before asking anything else.
  if (flags.schema !== undefined) {
    const problem = schemaNameProblem(flags.schema)
    if (problem) throw new UsageError(`--schema: ${problem}`)
  }

  const services = await ctx.services()
  let input = { name: flags.name, address: flags.address, schemaName: flags.schema, keyName: flags.keyName }

  if (missing.length > 0 && prompts) {
    const nameTaken = (name: string) => `a tenant named "${name.trim()}" already exists`
    // A name given is final too: refused before anything is asked, as a typed one is at its prompt.
    if (flags.name !== undefined && (await services.tenants.isTenantNameTaken(flags.name))) {
      throw new ConflictError(nameTaken(flags.name), 'TENANT_NAME_TAKEN')
    }
    const name =
      flags.name ??
      (await prompts.input({
        message: 'Tenant name',
        validate: async (value) =>
          lengthProblem(value, MAX_TENANT_NAME_LENGTH) ?? ((await services.tenants.isTenantNameTaken(value)) ? nameTaken(value) : true),
      }))
    const address = flags.address ?? (await prompts.input({ message: 'Address (optional)', default: '' }))
    const isTaken = async (schema: string) => {
      try {
        await services.tenants.getTenant(schema)
        return true
      } catch (error) {
        if (error instanceof NotFoundError) return false
        throw error
      }
    }
    const schemaName =
      flags.schema ??
      (await prompts.input({
        message: 'Schema name',
        default: await suggestFreeSchemaName(name, isTaken),
        hint: schemaNameProblem,
        validate: async (value) =>
          schemaNameProblem(value) ?? ((await isTaken(value)) ? `schema "${value}" is already taken by another tenant` : true),
      }))
    const keyName =
      flags.keyName ??
      (await prompts.input({
        message: 'Name of the first api key',
        default: 'default',
        validate: (value) => lengthProblem(value, MAX_KEY_NAME_LENGTH) ?? true,
      }))
    input = { name, address, schemaName, keyName }

    const s = output.noteStyle
    // Notes, not lines: under --json they go to stderr with the prompts.
    output.note('')
    output.note(s.bold('About to create:'))
    output.note(`  name     ${name.trim()}`)
    output.note(`  address  ${address.trim() || s.dim('(none)')}`)
    output.note(`  schema   ${schemaName}`)
    output.note(`  api key  ${keyName.trim()}`)
    if (!(await prompts.confirm({ message: 'Create this tenant?', default: true }))) {
      throw new CancelledError('cancelled: nothing was created')
    }
  }

  const created = await services.tenants.createTenant({
    name: input.name!,
    address: input.address ?? '',
    schemaName: input.schemaName!,
    ...(input.keyName !== undefined && { keyName: input.keyName }),
    ...(flags.domain !== undefined && { domains: flags.domain }),
  })
  printCreated(ctx, created)
  return created
}

/** What a prompt says to a name that core would refuse for its length (trimmed, as core measures it). */
function lengthProblem(value: string, max: number): string | undefined {
  const length = value.trim().length
  return length > 0 && length <= max ? undefined : `enter 1 to ${max} characters`
}

/** The schema suggested for `name`, or the first of `name_2`, `name_3`... not taken (none after 99 tries). */
export async function suggestFreeSchemaName(name: string, isTaken: (schema: string) => Promise<boolean>): Promise<string | undefined> {
  const base = suggestSchemaName(name)
  if (!(await isTaken(base))) return base
  for (let n = 2; n < 100; n++) {
    const suffix = `_${n}`
    const candidate = `${base.slice(0, MAX_SCHEMA_NAME_BYTES - suffix.length)}${suffix}`
    if (!(await isTaken(candidate))) return candidate
  }
  return undefined
}

function printCreated(ctx: CommandContext, { tenant, apiKey, domains }: { tenant: Tenant; apiKey: IssuedApiKey; domains: string[] }): void {
  const { output } = ctx
  if (output.json) {
    output.writeJson({ tenant, apiKey, domains })
    return
  }
  const s = output.style
  output.line()
  output.line(
    `${s.green('✔')} Created tenant ${s.bold(tenant.name)} (schema ${tenant.schemaName}, id ${tenant.id}, migrations ${formatState(tenant.migrations)})`,
  )
  if (domains.length > 0) output.line(`  domains: ${domains.join(', ')} (primary: ${domains[0]})`)
  output.line()
  output.line(`  api key "${apiKey.name}":`)
  output.line(`  ${s.bold(apiKey.key)}`)
  if (apiKey.expiresAt) output.line(`  expires ${formatTime(apiKey.expiresAt)}`)
  output.line()
  output.line(s.yellow(`! Store this key now: it is not shown again. Revoke it with \`tenantctl keys revoke ${apiKey.prefix}\`.`))
}
