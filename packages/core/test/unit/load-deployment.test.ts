import path from 'node:path'
import t from 'tap'
import { ConfigError, findConfigFile, loadDeployment } from '../../src/index.js'

const coreUrl = new URL('../../src/index.ts', import.meta.url).href

t.test('the config file: TENANTBASE_CONFIG, else the nearest tenantbase.config.* upwards', async (t) => {
  const dir = t.testdir({
    project: { 'tenantbase.config.mjs': 'export default { modules: [] }\n', app: { deep: {} } },
    other: { 'custom.mjs': 'export default {}\n' },
  })
  t.equal(findConfigFile({}, path.join(dir, 'project/app/deep')), path.join(dir, 'project/tenantbase.config.mjs'))
  t.equal(findConfigFile({ TENANTBASE_CONFIG: 'other/custom.mjs' }, dir), path.join(dir, 'other/custom.mjs'))
  t.throws(() => findConfigFile({ TENANTBASE_CONFIG: 'nowhere.ts' }, dir), ConfigError, 'a named file must exist')
  t.equal(findConfigFile({}, '/'), undefined, 'none: core alone')
  const alone = await loadDeployment({ env: {}, cwd: path.join(dir, 'other') })
  t.same(
    alone.modules.map((m) => m.name),
    ['core'],
  )
})

t.test('a TypeScript config declares modules, each with migrations of its own', async (t) => {
  const dir = t.testdir({
    'tenantbase.config.ts': [
      `import { defineConfig, defineModule } from ${JSON.stringify(coreUrl)}`,
      "const notes = defineModule({ name: 'notes', migrations: new URL('./notes/', import.meta.url) })",
      'export default defineConfig({ modules: [notes] })',
    ].join('\n'),
    notes: { tenant: { '0001_notes.sql': 'create table notes (id bigint primary key);\n' } },
  })
  const deployment = await loadDeployment({ env: {}, cwd: dir })
  t.equal(deployment.configFile, path.join(dir, 'tenantbase.config.ts'))
  t.same(
    deployment.modules.map((m) => m.name),
    ['core', 'notes'],
  )
  t.same(deployment.migrations.modules, ['core', 'notes'])
  t.same(
    deployment.migrations.tenant.filter((m) => m.module === 'notes').map((m) => m.file),
    ['0001_notes.sql'],
  )
})

t.test('every problem of a declaration is reported at once', async (t) => {
  const dir = t.testdir({
    'bad.mjs': "export default { modules: [{ name: 'core' }, { name: 'Bad-Name' }, { name: 'x' }, { name: 'x' }, 42] }\n",
    'broken.mjs': 'export default {\n',
    'none.mjs': 'export const modules = []\n',
  })
  const error = await loadDeployment({ env: { TENANTBASE_CONFIG: 'bad.mjs' }, cwd: dir }).catch((e: unknown) => e)
  t.type(error, ConfigError)
  t.match((error as ConfigError).details, [/"core" is declared twice .*core is always there/, /"Bad-Name" must be lower-case/, /"x" is declared twice/, /modules\[4\] is not a module/])
  await t.rejects(loadDeployment({ env: { TENANTBASE_CONFIG: 'broken.mjs' }, cwd: dir }), { code: 'CONFIG_INVALID', message: /cannot load .*broken\.mjs/ })
  await t.rejects(loadDeployment({ env: { TENANTBASE_CONFIG: 'none.mjs' }, cwd: dir }), { code: 'CONFIG_INVALID', message: /must export default defineConfig/ })
})
