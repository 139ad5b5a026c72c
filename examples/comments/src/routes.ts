import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'
import type { TenantRoutes } from '@tenantbase/api'
import type { Comment, CommentService } from './comment-service.js'

const CommentResponse = Type.Object(
  {
    id: Type.Integer(),
    post_id: Type.Integer(),
    author_id: Type.Integer(),
    body: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'Comment' },
)
const CommentBody = Type.Object({ body: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false })
const PostParams = Type.Object({ postId: Type.String({ pattern: '^[1-9][0-9]{0,15}$' }) })
const SECURITY = [{ apiKey: [], bearer: [] }]

function toResponse(comment: Comment): Static<typeof CommentResponse> {
  return {
    id: comment.id,
    post_id: comment.postId,
    author_id: comment.authorId,
    body: comment.body,
    created_at: comment.createdAt.toISOString(),
  }
}

/** /api/posts/{postId}/comments/: a post's comments; every route needs a user. */
export function commentRoutes(comments: CommentService): TenantRoutes {
  const plugin: FastifyPluginAsyncTypebox = async (app) => {
    app.addHook('preHandler', app.requireUser)

    app.get('/:postId/comments/', {
      schema: {
        tags: ['comments'],
        summary: "A post's comments, oldest first",
        security: SECURITY,
        params: PostParams,
        response: { 200: Type.Array(CommentResponse) },
      },
      handler: async (request) => (await comments.listComments(request.tenant!, Number(request.params.postId))).map(toResponse),
    })

    app.post('/:postId/comments/', {
      schema: {
        tags: ['comments'],
        summary: 'Comment on a post',
        security: SECURITY,
        params: PostParams,
        body: CommentBody,
        response: { 201: CommentResponse },
      },
      handler: async (request, reply) => {
        const comment = await comments.addComment(request.tenant!, request.userId!, Number(request.params.postId), request.body.body)
        return reply.code(201).send(toResponse(comment))
      },
    })
  }
  return { prefix: 'posts', plugin }
}
