import type { InTenant, TenantRef } from '../db/tenant-scope.js'
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.js'

export interface Post {
  readonly id: number
  readonly title: string
  readonly body: string
  readonly authorId: number
  readonly createdAt: Date
  readonly updatedAt: Date
}

export interface PostInput {
  readonly title: string
  readonly body: string
}

export interface ListPostsInput {
  /** 1 to 100, default 20. */
  readonly limit?: number
  /** The `next` of a previous page. */
  readonly cursor?: string | null
  readonly authorId?: number | null
}

export interface PostPage {
  readonly results: Post[]
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly next: string | null
}

const MAX_TITLE = 200
const MAX_BODY = 10_000
// NOTE: the statements of this file are built from no fragments (sql.unsafe, sql``): a
// post's columns are spelled out in each. Each fragment is a postgres.js Query, a promise
// with its closures, made per call, and the list route ran three of them per request. Code
// off the request path (api keys' writes, migrations) uses fragments where they read better.
// NOTE: numbers are passed as `sql.types.bigint(n)`. Each tenant has its own statements (they
// name its schema), so each is new to a connection once per tenant; with every parameter's
// type known, postgres.js sends it whole at once, where an untyped number makes it wait for
// the server's description of the statement first: a second round trip on each tenant's first
// request to a connection. (Strings are untyped too: the writes still describe first.)

/** PostgreSQL's text cannot hold U+0000: refused here, as a 400, not a 500 from the server. */
const NUL_PROBLEM = (field: string) => `${field} must not contain NUL characters`

function checkPostFields(input: Partial<PostInput>, required: boolean): Partial<PostInput> {
  const problems: string[] = []
  const out: { title?: string; body?: string } = {}
  if (input.title !== undefined || required) {
    const length = typeof input.title === 'string' ? [...input.title.trim()].length : -1
    if (length < 1 || length > MAX_TITLE) problems.push(`title must be 1 to ${MAX_TITLE} characters`)
    else if (input.title!.includes('\u0000')) problems.push(NUL_PROBLEM('title'))
    else out.title = input.title!.trim()
  }
  if (input.body !== undefined || required) {
    if (typeof input.body !== 'string' || [...input.body].length > MAX_BODY) {
      problems.push(`body must be a string of at most ${MAX_BODY} characters`)
    } else if (input.body.includes('\u0000')) problems.push(NUL_PROBLEM('body'))
    else out.body = input.body
  }
  if (problems.length > 0) throw new ValidationError(problems.join('; '), 'VALIDATION_FAILED', problems)
  return out
}

/** Keyset cursor: the id of the last post of a page, opaque to clients. */
function encodeCursor(id: number): string {
  return Buffer.from(`p${id}`).toString('base64url')
}

function decodeCursor(cursor: string): number {
  const match = /^p([1-9]\d{0,15})$/.exec(Buffer.from(cursor, 'base64url').toString())
  const id = match ? Number(match[1]) : NaN
  if (!Number.isSafeInteger(id)) throw new ValidationError('cursor is not one this API returned', 'INVALID_CURSOR')
  return id
}

function postNotFound(): NotFoundError {
  return new NotFoundError('post not found', 'POST_NOT_FOUND')
}

function validId(id: number): boolean {
  return Number.isSafeInteger(id) && id >= 1
}

/** Posts of one tenant. Only a post's author may change or delete it. */
export function createPostService({ inTenant }: { readonly inTenant: InTenant }) {
  async function createPost(tenant: TenantRef, authorId: number, input: PostInput): Promise<Post> {
    const { title, body } = checkPostFields(input, true)
    const [post] = await inTenant(
      tenant,
      ({ sql, schema }) => sql<Post[]>`
        insert into ${schema}.posts (author_id, title, body)
        values (${authorId}, ${title!}, ${body!})
        returning id, title, body, author_id, created_at, updated_at`,
    )
    return post!
  }

  async function getPost(tenant: TenantRef, id: number): Promise<Post> {
    if (!validId(id)) throw postNotFound()
    const [post] = await inTenant(
      tenant,
      ({ sql, schema }) => sql<Post[]>`
        select id, title, body, author_id, created_at, updated_at from ${schema}.posts where id = ${sql.types.bigint(id)}`,
    )
    if (!post) throw postNotFound()
    return post
  }

  /** Newest first, by keyset on the id (stable under concurrent inserts, index-only seek). */
  async function listPosts(tenant: TenantRef, input: ListPostsInput = {}): Promise<PostPage> {
    const limit = input.limit ?? 20
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new ValidationError('limit must be an integer from 1 to 100', 'INVALID_LIMIT')
    }
    // The first page is the page before any id: one statement with or without a cursor.
    const before = input.cursor ? decodeCursor(input.cursor) : Number.MAX_SAFE_INTEGER
    const authorId = input.authorId ?? null
    if (authorId !== null && !validId(authorId)) throw new ValidationError('author must be a user id', 'INVALID_AUTHOR')
    const rows = await inTenant(tenant, ({ sql, schema }) =>
      authorId === null
        ? sql<Post[]>`
            select id, title, body, author_id, created_at, updated_at from ${schema}.posts
            where id < ${sql.types.bigint(before)} order by id desc limit ${sql.types.bigint(limit + 1)}`
        : sql<Post[]>`
            select id, title, body, author_id, created_at, updated_at from ${schema}.posts
            where author_id = ${sql.types.bigint(authorId)} and id < ${sql.types.bigint(before)} order by id desc limit ${sql.types.bigint(limit + 1)}`,
    )
    const results = rows.slice(0, limit)
    return { results, next: rows.length > limit ? encodeCursor(results.at(-1)!.id) : null }
  }

  /** Replaces both fields of a post of `actorId` (PUT). */
  async function replacePost(tenant: TenantRef, actorId: number, id: number, input: PostInput): Promise<Post> {
    return writePost(tenant, actorId, id, checkPostFields(input, true))
  }

  /** Changes either field, or both, of a post of `actorId` (PATCH). */
  async function patchPost(tenant: TenantRef, actorId: number, id: number, input: Partial<PostInput>): Promise<Post> {
    return writePost(tenant, actorId, id, checkPostFields(input, false))
  }

  async function writePost(tenant: TenantRef, actorId: number, id: number, fields: Partial<PostInput>): Promise<Post> {
    if (!validId(id)) throw postNotFound()
    const [post] = await inTenant(
      tenant,
      ({ sql, schema }) => sql<Post[]>`
        update ${schema}.posts set
          title = coalesce(${fields.title ?? null}, title),
          body = coalesce(${fields.body ?? null}, body),
          updated_at = now()
        where id = ${id} and author_id = ${actorId}
        returning id, title, body, author_id, created_at, updated_at`,
    )
    if (post) return post
    return forbiddenOrMissing(tenant, id)
  }

  async function deletePost(tenant: TenantRef, actorId: number, id: number): Promise<void> {
    if (!validId(id)) throw postNotFound()
    const deleted = await inTenant(
      tenant,
      ({ sql, schema }) => sql`delete from ${schema}.posts where id = ${sql.types.bigint(id)} and author_id = ${sql.types.bigint(actorId)}`,
    )
    if (deleted.count === 0) await forbiddenOrMissing(tenant, id)
  }

  /** After a write matched nothing: is the post someone else's (403) or absent (404)? */
  async function forbiddenOrMissing(tenant: TenantRef, id: number): Promise<never> {
    const [exists] = await inTenant(tenant, ({ sql, schema }) => sql`select 1 from ${schema}.posts where id = ${sql.types.bigint(id)}`)
    if (exists) throw new ForbiddenError('only the author may change this post', 'NOT_POST_AUTHOR')
    throw postNotFound()
  }

  return { createPost, getPost, listPosts, replacePost, patchPost, deletePost }
}

export type PostService = ReturnType<typeof createPostService>
