import t from 'tap'
import {
  AuthenticationError,
  ConfigError,
  ConflictError,
  CoreError,
  DatabaseUnavailableError,
  ForbiddenError,
  MigrationError,
  NotFoundError,
  ValidationError,
  toCoreError,
} from '@tenantbase/core'
import { TooManyRequestsError } from '../../src/errors.js'
import { toErrorResponse } from '../../src/plugins/error-handler.js'

t.test('core errors map to their status with their code', async (t) => {
  const cases: [Error, number, string][] = [
    [new ValidationError('bad', 'INVALID_CURSOR'), 400, 'INVALID_CURSOR'],
    [new AuthenticationError('no', 'INVALID_API_KEY'), 401, 'INVALID_API_KEY'],
    [new ForbiddenError('no', 'NOT_POST_AUTHOR'), 403, 'NOT_POST_AUTHOR'],
    [new NotFoundError('no', 'POST_NOT_FOUND'), 404, 'POST_NOT_FOUND'],
    [new ConflictError('no', 'EMAIL_TAKEN'), 409, 'EMAIL_TAKEN'],
    [new DatabaseUnavailableError('down'), 503, 'DATABASE_UNAVAILABLE'],
  ]
  for (const [error, status, code] of cases) {
    t.match(toErrorResponse(error), { statusCode: status, code, message: error.message }, code)
  }
})

t.test("a module's own code answers with its class's generic status, under its own code", async (t) => {
  t.match(toErrorResponse(new NotFoundError('comment not found', 'COMMENT_NOT_FOUND')), {
    statusCode: 404,
    code: 'COMMENT_NOT_FOUND',
    message: 'comment not found',
  })
  t.match(toErrorResponse(new ConflictError('label taken', 'LABEL_TAKEN')), { statusCode: 409, code: 'LABEL_TAKEN' })
  // The code decides where the table lists it, whatever the class.
  t.match(toErrorResponse(new ValidationError('taken', 'EMAIL_TAKEN')), { statusCode: 409, code: 'EMAIL_TAKEN' })
})

t.test('server errors show nothing of themselves', async (t) => {
  for (const error of [
    new Error('select * from secret'),
    new MigrationError('m'),
    new ConfigError(['x']),
    new CoreError('INTERNAL_ERROR', 'select * from secret'),
    new CoreError('SOMETHING_ELSE', 'select * from secret'),
    new TypeError('boom'),
    'a string',
  ]) {
    t.same(toErrorResponse(error), {
      statusCode: 500,
      code: 'INTERNAL_ERROR',
      error: 'Internal Server Error',
      message: 'internal server error',
    })
  }
})

t.test('a lost database connection is 503, not 500: core reports it as DatabaseUnavailableError', async (t) => {
  const lost = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
  const reported = toCoreError(lost)
  t.type(reported, DatabaseUnavailableError, "core's services turn the driver's error into its class")
  t.match(toErrorResponse(reported), { statusCode: 503, code: 'DATABASE_UNAVAILABLE' })
  // The edge maps core's classes only: a driver error that reached it unreported is a defect, shown to no one.
  t.match(toErrorResponse(lost), { statusCode: 500, code: 'INTERNAL_ERROR' })
})

t.test('fastify client errors keep their status under stable codes', async (t) => {
  t.match(toErrorResponse(Object.assign(new Error('x'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' })), {
    statusCode: 413,
    code: 'PAYLOAD_TOO_LARGE',
    error: 'Payload Too Large',
  })
  t.match(
    toErrorResponse(
      Object.assign(new Error('Unsupported Media Type: text/plain'), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }),
    ),
    {
      statusCode: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: 'the body must be JSON, sent with Content-Type: application/json',
    },
  )
  t.match(
    toErrorResponse(Object.assign(new Error('Unexpected token } at 3'), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' })),
    {
      statusCode: 400,
      code: 'INVALID_JSON',
      message: 'the body is not valid JSON',
    },
  )
  t.match(toErrorResponse(Object.assign(new Error('body/title must be string'), { statusCode: 400, validation: [{}] })), {
    statusCode: 400,
    code: 'VALIDATION_FAILED',
    message: 'body/title must be string',
  })
  t.match(toErrorResponse(new TooManyRequestsError(12.2)), { statusCode: 429, code: 'TOO_MANY_LOGIN_ATTEMPTS', error: 'Too Many Requests' })
  t.equal(new TooManyRequestsError(12.2).retryAfterSeconds, 13, 'Retry-After rounds up')
  t.equal(new TooManyRequestsError(0).retryAfterSeconds, 1, 'Retry-After is at least 1')
})
