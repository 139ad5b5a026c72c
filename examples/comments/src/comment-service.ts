import { NotFoundError, ValidationError, type Services, type TenantRef } from '@tenantbase/core'

export interface Comment {
  readonly id: number
  readonly postId: number
  readonly authorId: number
  readonly body: string
  readonly createdAt: Date
}

const MAX_BODY = 2000

/**
 * Comments on a tenant's posts. Like core's services: the tenant an argument of every
 * function, its queries run by `inTenant` (on the tenant's home connection, driver errors
 * reported as core's), the schema named only through the `schema` it hands over (validated
 * and escaped by the driver), typed errors thrown.
 */
export function createCommentService({ inTenant, posts }: Pick<Services, 'inTenant' | 'posts'>) {
  async function addComment(tenant: TenantRef, authorId: number, postId: number, body: string): Promise<Comment> {
    const text = typeof body === 'string' ? body.trim() : ''
    if (text.length < 1 || text.length > MAX_BODY || text.includes('\u0000')) {
      throw new ValidationError(`body must be 1 to ${MAX_BODY} characters`, 'VALIDATION_FAILED')
    }
    await posts.getPost(tenant, postId) // POST_NOT_FOUND (404) for a missing or other tenant's post
    const [comment] = await inTenant(
      tenant,
      ({ sql, schema }) => sql<Comment[]>`
        insert into ${schema}.comments (post_id, author_id, body)
        values (${postId}, ${authorId}, ${text})
        returning id, post_id, author_id, body, created_at`,
    )
    if (!comment) throw new NotFoundError('post not found', 'POST_NOT_FOUND')
    return comment
  }

  async function listComments(tenant: TenantRef, postId: number): Promise<Comment[]> {
    await posts.getPost(tenant, postId)
    return inTenant(
      tenant,
      ({ sql, schema }) => sql<Comment[]>`
        select id, post_id, author_id, body, created_at from ${schema}.comments
        where post_id = ${postId} order by id`,
    )
  }

  return { addComment, listComments }
}

export type CommentService = ReturnType<typeof createCommentService>
