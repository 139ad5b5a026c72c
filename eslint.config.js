// Lint with type information (typescript-eslint's type-checked recommended rules on every
// package's and example's src/), no import cycles, and the import boundaries of the layout
// (DESIGN.md): core imports no HTTP or terminal library; api and cli never talk to the
// driver; nothing reaches into another package's src/ or dist/ by path.
import tseslint from 'typescript-eslint'
import { importX } from 'eslint-plugin-import-x'
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript'

const noDeepImports = {
  regex: '(^|/)packages/[^/]+/(src|dist)/|^@tenantbase/[^/]+/(src|dist)/',
  message: 'import the workspace package (@tenantbase/...), not its files',
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.tap/**', '.data/**', '**/*.js'] },
  { files: ['**/*.mjs'], rules: { 'no-restricted-imports': ['error', { patterns: [noDeepImports] }] } },
  { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
  ...tseslint.configs.recommendedTypeChecked.map((config) => ({
    ...config,
    files: ['packages/*/src/**/*.ts', 'examples/*/src/**/*.ts'],
  })),
  {
    files: ['packages/*/src/**/*.ts', 'examples/*/src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // `const { secret: _secret, ...rest } = row` is how a field is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    // Fastify's contract for plugins, hooks and handlers that return a promise is an async
    // function (FastifyPluginAsync: no `done`); one with nothing to await is its documented
    // form there, not a forgotten await.
    files: ['packages/api/src/**/*.ts', 'examples/*/src/routes.ts'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    // A cycle between two modules of a package means neither owns the concern; the packages
    // themselves point one way already (api -> core, cli -> core).
    files: ['packages/*/src/**/*.ts', 'examples/*/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Without these the rule reads only .js files and sees no cycle among .ts ones.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [
        createTypeScriptImportResolver({
          project: ['packages/*/tsconfig.json', 'examples/*/tsconfig.json'],
          noWarnOnMultipleProjects: true,
        }),
      ],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    files: ['packages/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['fastify', 'fastify-plugin', '@fastify/*', 'commander', 'inquirer', '@inquirer/*', 'chalk'],
              message: 'core imports no HTTP and no terminal library',
            },
            noDeepImports,
          ],
        },
      ],
    },
  },
  {
    files: ['bench/**/*.ts', 'test/**/*.ts', 'examples/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noDeepImports] }] },
  },
  {
    files: ['packages/api/**/*.ts', 'packages/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['postgres'], message: 'api and cli never talk to the driver: use core' }, noDeepImports] },
      ],
    },
  },
)
