// Lint with type information, and the import boundaries of the layout (DESIGN.md):
// core imports no HTTP or terminal library; api and cli never talk to the driver; nothing
// reaches into another package's src/ or dist/ by path.
import tseslint from 'typescript-eslint'

const noDeepImports = {
  regex: '(^|/)packages/[^/]+/(src|dist)/|^@tenantbase/[^/]+/(src|dist)/',
  message: 'import the workspace package (@tenantbase/...), not its files',
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.tap/**', '.data/**', '**/*.js'] },
  { files: ['**/*.mjs'], rules: { 'no-restricted-imports': ['error', { patterns: [noDeepImports] }] } },
  { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
  {
    files: ['packages/*/src/**/*.ts', 'examples/*/src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
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
