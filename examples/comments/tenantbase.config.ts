// The deployment of this example: core and the comments module, imported by its package
// name as a module published to npm would be. `TENANTBASE_CONFIG=examples/comments/tenantbase.config.ts`
// makes `pnpm start`, `pnpm tenantctl`, the tests' harness and the benches run it.
import { defineConfig } from '@tenantbase/core'
import comments from '@tenantbase/example-comments'

export default defineConfig({ modules: [comments] })
