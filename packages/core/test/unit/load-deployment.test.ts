import { readdir, writeFile } from 'node:fs/promises'
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

const stripsTypes = Boolean((process.features as { typescript?: string | false }).typescript)
const compiledCopies = (dir: string) => readdir(path.join(dir, 'node_modules/.cache/tenantbase')).catch(() => [] as string[])

t.test('a TypeScript config of packages and JavaScript files is compiled once, beside it, where Node does not strip types', async (t) => {
  const config = (order: string) =>
    [
      "import extra from 'extra-module'",
      "import { extraMigrations } from './extra.js'",
      "const notes: { name: string; migrations: URL } = { name: 'notes', migrations: new URL('./notes/', import.meta.url) }",
      `export default { modules: ${order} }`,
    ].join('\n')
  const dir = t.testdir({
    'tenantbase.config.ts': config('[notes, { ...extra, migrations: extraMigrations }]'),
    'extra.js': "export const extraMigrations = new URL('./extra/', import.meta.url)\n",
    notes: { tenant: { '0001_notes.sql': 'create table notes (id bigint primary key);\n' } },
    extra: { tenant: { '0001_extra.sql': 'create table extra (id bigint primary key);\n' } },
    node_modules: {
      'extra-module': {
        'package.json': JSON.stringify({ name: 'extra-module', type: 'module', exports: './index.js' }),
        'index.js': "export default { name: 'extra' }\n",
      },
    },
  })
  const first = await loadDeployment({ env: {}, cwd: dir })
  t.same(
    first.modules.map((m) => m.name),
    ['core', 'notes', 'extra'],
  )
  t.same(
    first.migrations.tenant.filter((m) => m.module !== 'core').map((m) => `${m.module}/${m.file}`),
    ['notes/0001_notes.sql', 'extra/0001_extra.sql'],
    "import.meta.url is the config's, and its own files' (their migrations are found)",
  )
  const copies = await compiledCopies(dir)
  if (stripsTypes) {
    t.same(copies, [], 'Node strips the types itself: nothing is compiled')
    return
  }
  t.equal(copies.length, 1, 'one compiled copy, in node_modules/.cache/tenantbase')
  await loadDeployment({ env: {}, cwd: dir })
  t.same(await compiledCopies(dir), copies, 'the next load uses it')
  await writeFile(path.join(dir, 'tenantbase.config.ts'), config('[{ ...extra, migrations: extraMigrations }, notes]'))
  const changed = await loadDeployment({ env: {}, cwd: dir })
  t.same(
    changed.modules.map((m) => m.name),
    ['core', 'extra', 'notes'],
    'an edited config is compiled again',
  )
  t.equal((await compiledCopies(dir)).length, 2)
})

const NOTES_MIGRATIONS = { tenant: { '0001_notes.sql': 'create table notes (id bigint primary key);\n' } }

// Configs that could not run from a compiled copy: each goes through the loader, nothing compiled.
for (const [label, files, nothingCompiled] of [
  [
    'a TypeScript config that imports its own package by name goes through the loader (a copy could not)',
    {
      'package.json': JSON.stringify({ name: 'my-app', type: 'module', exports: { '.': './index.js' } }),
      'index.js': "export const notes = { name: 'notes', migrations: new URL('./notes/', import.meta.url) }\n",
      'tenantbase.config.ts': "import { notes } from 'my-app'\nconst modules: unknown[] = [notes]\nexport default { modules }\n",
    },
    'nothing compiled',
  ],
  [
    'a TypeScript config that imports TypeScript files of its own goes through the loader',
    {
      'tenantbase.config.ts': "import { notes } from './notes.ts'\nexport default { modules: [notes] }\n",
      'notes.ts':
        "export const notes: { name: string; migrations: URL } = { name: 'notes', migrations: new URL('./notes/', import.meta.url) }\n",
    },
    'nothing compiled: the config could not run from a copy',
  ],
] as const) {
  t.test(label, async (t) => {
    const dir = t.testdir({ ...files, notes: NOTES_MIGRATIONS, node_modules: {} })
    const deployment = await loadDeployment({ env: {}, cwd: dir })
    t.same(
      deployment.modules.map((m) => m.name),
      ['core', 'notes'],
    )
    t.same(await compiledCopies(dir), [], nothingCompiled)
  })
}

t.test('every problem of a declaration is reported at once', async (t) => {
  const dir = t.testdir({
    'bad.mjs': "export default { modules: [{ name: 'core' }, { name: 'Bad-Name' }, { name: 'x' }, { name: 'x' }, 42] }\n",
    'broken.mjs': 'export default {\n',
    'none.mjs': 'export const modules = []\n',
  })
  const error = await loadDeployment({ env: { TENANTBASE_CONFIG: 'bad.mjs' }, cwd: dir }).catch((e: unknown) => e)
  t.type(error, ConfigError)
  t.match((error as ConfigError).details, [
    /"core" is declared twice .*core is always there/,
    /"Bad-Name" must be lower-case/,
    /"x" is declared twice/,
    /modules\[4\] is not a module/,
  ])
  await t.rejects(loadDeployment({ env: { TENANTBASE_CONFIG: 'broken.mjs' }, cwd: dir }), {
    code: 'CONFIG_INVALID',
    message: /cannot load .*broken\.mjs/,
  })
  await t.rejects(loadDeployment({ env: { TENANTBASE_CONFIG: 'none.mjs' }, cwd: dir }), {
    code: 'CONFIG_INVALID',
    message: /must export default defineConfig/,
  })
})
