// The deployment's modules: core's users, posts and sessions are always there; list your
// own modules after them, in the order they migrate. The API, `pnpm start`, every
// `tenantctl` command, the tests' harness, the benches and the Docker image read this file
// (or the one TENANTBASE_CONFIG names). docs/extending.md shows a module, built; declaring
// it is one line: `modules: [comments]`, with `import comments from '@tenantbase/example-comments'`.
import { defineConfig } from '@tenantbase/core'

export default defineConfig({ modules: [] })
