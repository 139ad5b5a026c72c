import { Type, type Static } from '@sinclair/typebox'
import type { Post, PostPage } from '@tenantbase/core'
import { ID_PATTERN, Timestamp } from './common.js'

export const PostResponse = Type.Object(
  {
    id: Type.Integer({ examples: [42] }),
    title: Type.String({ examples: ['Hello'] }),
    body: Type.String({ examples: ['First post.'] }),
    author_id: Type.Integer({ examples: [1] }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'Post' },
)
export type PostResponse = Static<typeof PostResponse>

export const PostPageResponse = Type.Object(
  {
    results: Type.Array(PostResponse),
    next: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next page; null on the last page' }),
  },
  { title: 'PostPage' },
)

const Title = Type.String({ minLength: 1, maxLength: 200, examples: ['Hello'] })
const Body = Type.String({ maxLength: 10_000, examples: ['First post.'] })

export const PostBody = Type.Object({ title: Title, body: Body }, { additionalProperties: false })
export type PostBody = Static<typeof PostBody>

export const PostPatchBody = Type.Object(
  { title: Type.Optional(Title), body: Type.Optional(Body) },
  { additionalProperties: false, minProperties: 1 },
)
export type PostPatchBody = Static<typeof PostPatchBody>

export const PostParams = Type.Object({
  id: Type.String({
    maxLength: 20,
    description: "the post's id; anything that is not one of this tenant's posts is 404",
    examples: ['42'],
  }),
})
export type PostParams = Static<typeof PostParams>

export const ListPostsQuery = Type.Object({
  // Optional with a default: Fastify's validator fills it in, and a client may leave it out.
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'page size' })),
  cursor: Type.Optional(Type.String({ maxLength: 100, description: 'the `next` of the previous page' })),
  author: Type.Optional(
    Type.String({
      pattern: `^(me|${ID_PATTERN})$`,
      'x-expected': 'a user id or me',
      description: 'only posts of this user id, or `me`',
      examples: ['me', '7'],
    }),
  ),
})
export type ListPostsQuery = Static<typeof ListPostsQuery>

/** Core's post (camelCase) as the HTTP contract shows it (snake_case). */
export function toPostResponse(post: Post): PostResponse {
  return {
    id: post.id,
    title: post.title,
    body: post.body,
    author_id: post.authorId,
    // fast-json-stringify writes a Date as an ISO 8601 string for format date-time.
    created_at: post.createdAt as unknown as string,
    updated_at: post.updatedAt as unknown as string,
  }
}

export function toPostPageResponse(page: PostPage) {
  return { results: page.results.map(toPostResponse), next: page.next }
}
