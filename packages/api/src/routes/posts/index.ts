import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { Type } from '@sinclair/typebox'
import { parseId, USER_SECURITY } from '../../schemas/common.js'
import { BODY_ERRORS, errorResponses, USER_ERRORS, WRITE_USER_ERRORS } from '../../schemas/errors.js'
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

/**
 * onRequest of the `/:id/` routes: `/api/posts//` reaches them with an empty id, but names
 * no post and no route: 404 ROUTE_NOT_FOUND, not POST_NOT_FOUND.
 */
function emptyIdIsNoRoute(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
  if ((request.params as { id?: string }).id === '') reply.callNotFound()
  else done()
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
      operationId: 'listPosts',
      summary: 'List posts, newest first',
      security: USER_SECURITY,
      querystring: ListPostsQuery,
      response: { 200: PostPageResponse, ...errorResponses([...USER_ERRORS, 'VALIDATION_FAILED', 'INVALID_CURSOR']) },
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
      operationId: 'createPost',
      summary: 'Create a post',
      security: USER_SECURITY,
      body: PostBody,
      response: { 201: PostResponse, ...errorResponses([...WRITE_USER_ERRORS, ...BODY_ERRORS]) },
    },
    handler: async (request, reply) => {
      const post = await posts.createPost(request.tenant!, request.userId!, request.body)
      return reply.code(201).send(toPostResponse(post))
    },
  })

  app.get('/:id/', {
    onRequest: emptyIdIsNoRoute,
    schema: {
      tags: ['posts'],
      operationId: 'getPost',
      summary: 'One post',
      security: USER_SECURITY,
      params: PostParams,
      response: { 200: PostResponse, ...errorResponses([...USER_ERRORS, 'VALIDATION_FAILED', 'POST_NOT_FOUND']) },
    },
    handler: async (request) => toPostResponse(await posts.getPost(request.tenant!, parseId(request.params.id))),
  })

  app.put('/:id/', {
    onRequest: emptyIdIsNoRoute,
    schema: {
      tags: ['posts'],
      operationId: 'replacePost',
      summary: 'Replace a post (its author only)',
      security: USER_SECURITY,
      params: PostParams,
      body: PostBody,
      response: { 200: PostResponse, ...errorResponses([...WRITE_USER_ERRORS, ...BODY_ERRORS, 'NOT_POST_AUTHOR', 'POST_NOT_FOUND']) },
    },
    handler: async (request) =>
      toPostResponse(await posts.replacePost(request.tenant!, request.userId!, parseId(request.params.id), request.body)),
  })

  app.patch('/:id/', {
    onRequest: emptyIdIsNoRoute,
    schema: {
      tags: ['posts'],
      operationId: 'patchPost',
      summary: 'Change some fields of a post (its author only)',
      security: USER_SECURITY,
      params: PostParams,
      body: PostPatchBody,
      response: { 200: PostResponse, ...errorResponses([...WRITE_USER_ERRORS, ...BODY_ERRORS, 'NOT_POST_AUTHOR', 'POST_NOT_FOUND']) },
    },
    handler: async (request) =>
      toPostResponse(await posts.patchPost(request.tenant!, request.userId!, parseId(request.params.id), request.body)),
  })

  app.delete('/:id/', {
    onRequest: emptyIdIsNoRoute,
    schema: {
      tags: ['posts'],
      operationId: 'deletePost',
      summary: 'Delete a post (its author only)',
      security: USER_SECURITY,
      params: PostParams,
      response: {
        204: Type.Null({ description: 'Deleted' }),
        ...errorResponses([...WRITE_USER_ERRORS, 'VALIDATION_FAILED', 'NOT_POST_AUTHOR', 'POST_NOT_FOUND']),
      },
    },
    handler: async (request, reply) => {
      await posts.deletePost(request.tenant!, request.userId!, parseId(request.params.id))
      return reply.code(204).send(null)
    },
  })
}

export default posts
