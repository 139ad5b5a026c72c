/** The example service's parts, as its own server entry would wire them (see docs/extending.md). */
export { loadMigrations, OWN_TENANT_MIGRATIONS } from './migrations.js'
export { createCommentService, type Comment, type CommentService } from './comment-service.js'
export { commentRoutes } from './routes.js'
