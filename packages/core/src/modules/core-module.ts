import { DEFAULT_MIGRATIONS_DIR } from '../migrations/catalog.js'
import { defineModule } from './module.js'

/**
 * Core's own tables (the registry, keys and audit log in the shared schema; users, posts
 * and refresh tokens in each tenant's), registered as every module is. Always first.
 */
export const coreModule = defineModule({ name: 'core', migrations: DEFAULT_MIGRATIONS_DIR })
