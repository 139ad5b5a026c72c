import type { Finding } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { CommandFailedError } from '../errors.js'

/** `tenantctl doctor`: every inconsistency between registry, schemas, ledgers and files, with its fix. */
export async function runDoctor(ctx: CommandContext): Promise<Finding[]> {
  const services = await ctx.services()
  const findings = await services.findInconsistencies()
  const { output } = ctx
  if (output.json) {
    output.writeJson({ ok: findings.length === 0, findings })
  } else if (findings.length === 0) {
    output.line(output.style.green('✔ No problems found: registry, schemas, migrations and keys agree.'))
  } else {
    const s = output.style
    for (const finding of findings) {
      output.line(`${s.red('✖')} ${s.bold(finding.kind)}: ${finding.message}`)
      output.line(`  ${s.dim('fix:')} ${finding.fix}`)
    }
  }
  if (findings.length > 0) {
    throw new CommandFailedError(`doctor found ${findings.length} problem${findings.length === 1 ? '' : 's'}`)
  }
  return findings
}
