import { defineModule } from '@tenantbase/core'
import type { TenantRoutes } from '@tenantbase/api'
import { createCommentService, type CommentService } from './comment-service.js'
import { commentRoutes } from './routes.js'

/**
 * Comments on posts, as a module: its tenant migrations (numbered from 0001 in its own
 * sequence), its service and its routes. A deployment declares it in one line of its
 * tenantbase.config: `modules: [comments]`.
 */
const comments = defineModule<CommentService, TenantRoutes>({
  name: 'comments',
  migrations: new URL('../migrations/', import.meta.url),
  service: (services) => createCommentService(services),
  routes: (service) => [commentRoutes(service)],
})

export default comments
export { createCommentService, type Comment, type CommentService } from './comment-service.js'
export { commentRoutes } from './routes.js'
