import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses, USER_SECURITY } from '../../schemas/common.js'
import {
  ListPostsQuery,
  PostBody,
  PostPageResponse,
  PostParams,
  PostPatchBody,
  PostResponse,
  toPostPageResponse,
  toPostResponse,
} from '../../schemas/posts.js'

/** A path id to a number; anything else becomes NaN, which core answers with 404. */
function postId(id: string): number {
  return /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : Number.NaN
}

/** /api/posts/: the tenant's posts; every route needs a user. */
const posts: FastifyPluginAsyncTypebox = async (app) => {
  const { posts } = app.services
  app.addHook('preHandler', app.requireUser)

  // NOTE: prefixTrailingSlash 'slash' names the route /api/posts/ (as the contract and the
  // OpenAPI document do); ignoreTrailingSlash still answers /api/posts.
  app.get('/', {
    prefixTrailingSlash: 'slash',
    schema: {
      tags: ['posts'],
      summary: 'List posts, newest first',
      security: USER_SECURITY,
      querystring: ListPostsQuery,
      response: { 200: PostPageResponse, ...errorResponses(400, 401) },
    },
    handler: async (request) => {
      const { limit, cursor, author } = request.query
      const authorId = author === undefined ? null : author === 'me' ? request.userId! : Number(author)
      return toPostPageResponse(await posts.listPosts(request.tenant!, { limit, cursor: cursor ?? null, authorId }))
    },
  })

  app.post('/', {
    prefixTrailingSlash: 'slash',
    schema: {
      tags: ['posts'],
      summary: 'Create a post',
      security: USER_SECURITY,
      body: PostBody,
      response: { 201: PostResponse, ...errorResponses(400, 401, 413, 415) },
    },
    handler: async (request, reply) => {
      const post = await posts.createPost(request.tenant!, request.userId!, request.body)
      return reply.code(201).send(toPostResponse(post))
    },
  })

  app.get('/:id/', {
    schema: {
      tags: ['posts'],
      summary: 'One post',
      security: USER_SECURITY,
      params: PostParams,
      response: { 200: PostResponse, ...errorResponses(401, 404) },
    },
    handler: async (request) => toPostResponse(await posts.getPost(request.tenant!, postId(request.params.id))),
  })

  app.put('/:id/', {
    schema: {
      tags: ['posts'],
      summary: 'Replace a post (its author only)',
      security: USER_SECURITY,
      params: PostParams,
      body: PostBody,
      response: { 200: PostResponse, ...errorResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request) =>
      toPostResponse(await posts.replacePost(request.tenant!, request.userId!, postId(request.params.id), request.body)),
  })

  app.patch('/:id/', {
    schema: {
      tags: ['posts'],
      summary: 'Change some fields of a post (its author only)',
      security: USER_SECURITY,
      params: PostParams,
      body: PostPatchBody,
      response: { 200: PostResponse, ...errorResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request) =>
      toPostResponse(await posts.patchPost(request.tenant!, request.userId!, postId(request.params.id), request.body)),
  })

  app.delete('/:id/', {
    schema: {
      tags: ['posts'],
      summary: 'Delete a post (its author only)',
      security: USER_SECURITY,
      params: PostParams,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(401, 403, 404) },
    },
    handler: async (request, reply) => {
      await posts.deletePost(request.tenant!, request.userId!, postId(request.params.id))
      return reply.code(204).send(null)
    },
  })
}

export default posts
