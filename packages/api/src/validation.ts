import type { FastifySchemaValidationError, FastifyServerOptions } from 'fastify'

/** Ajv's error with `verbose`: the schema that failed, so the message can quote its limits. */
interface SchemaProblem extends FastifySchemaValidationError {
  parentSchema?: {
    type?: string
    minLength?: number
    maxLength?: number
    minimum?: number
    maximum?: number
    properties?: Record<string, unknown>
    anyOf?: { type?: string }[]
    /** Words for what a `pattern` accepts: a pattern itself is never shown. */
    'x-expected'?: string
  }
}

/**
 * Ajv options of the app: every problem at once, and the failing schema on each, for
 * {@link formatValidationErrors}.
 * NOTE: allErrors makes a crafted input cost more to check (one error per item of a long
 * array): these schemas have no arrays, every string has a maxLength and bodies are at most
 * BODY_LIMIT_BYTES, so the problems of one request stay few.
 */
export const AJV_OPTIONS: NonNullable<FastifyServerOptions['ajv']> = {
  // NOTE: Fastify's default removes fields a body schema does not name; they are refused
  // instead (400 naming the field), so a client sending `id` or `author_id` learns that they
  // are not taken rather than seeing them dropped without a word.
  customOptions: { allErrors: true, verbose: true, keywords: ['x-expected'], removeAdditional: false },
}

const WHOLE: Record<string, string> = { body: 'the body', querystring: 'the query', params: 'the path', headers: 'the headers' }

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'an array',
  null: 'null',
}

function fieldName(problem: SchemaProblem, dataVar: string): string {
  const path = problem.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const missing = problem.keyword === 'required' ? String(problem.params.missingProperty) : ''
  return [path, missing].filter(Boolean).join('.') || WHOLE[dataVar] || dataVar
}

function range(low: number | undefined, high: number | undefined, unit: string): string {
  if (low !== undefined && high !== undefined) return `${low} to ${high}${unit}`
  return low !== undefined ? `at least ${low}${unit}` : `at most ${high}${unit}`
}

/** One problem in plain words after the field name, or undefined when another error of the field says it better. */
function describe(problem: SchemaProblem): string | undefined {
  const schema = problem.parentSchema ?? {}
  switch (problem.keyword) {
    case 'required':
      return 'is required'
    case 'type':
      return `must be ${TYPE_WORDS[String(problem.params.type)] ?? String(problem.params.type)}`
    case 'minLength':
    case 'maxLength':
      return `must be ${range(schema.minLength, schema.maxLength, ' characters')}`
    case 'minimum':
    case 'maximum': {
      const kind = schema.type === 'integer' ? 'an integer' : 'a number'
      const bounds = range(schema.minimum, schema.maximum, '')
      return `must be ${kind} ${schema.minimum !== undefined && schema.maximum !== undefined ? `from ${bounds}` : `of ${bounds}`}`
    }
    case 'pattern':
    case 'format':
      return `must be ${schema['x-expected'] ?? (problem.keyword === 'format' ? `a valid ${String(problem.params.format)}` : 'in the documented form')}`
    case 'minProperties':
      return `must have at least one of ${Object.keys(schema.properties ?? {}).join(', ')}`
    case 'additionalProperties':
      return `has an unknown field ${String(problem.params.additionalProperty)}`
    case 'enum':
    case 'const':
      return 'has an unknown value'
    case 'anyOf':
      return `must be ${(schema.anyOf ?? []).map((branch) => TYPE_WORDS[branch.type ?? ''] ?? 'another value').join(' or ')}`
    default:
      return 'is invalid'
  }
}

/**
 * Fastify's `schemaErrorFormatter`: every problem of the request's body, query or path in
 * one message, each as `field` and plain words (`title must be 1 to 200 characters; body is
 * required`), never a schema path or a pattern. The words match core's own validation
 * messages, so a 400 VALIDATION_FAILED reads the same whichever side found it.
 */
export function formatValidationErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const byField = new Map<string, SchemaProblem[]>()
  for (const problem of errors as SchemaProblem[]) {
    const field = fieldName(problem, dataVar)
    byField.set(field, [...(byField.get(field) ?? []), problem])
  }
  const messages: string[] = []
  for (const [field, problems] of byField) {
    // A union (`name`: a string or null) fails in each branch, then as a whole: say what
    // broke a branch's limit if one did (`at most 200 characters`), else the union's types.
    const union = problems.some((problem) => problem.keyword === 'anyOf')
    const limits = problems.filter((problem) => problem.keyword !== 'type' && problem.keyword !== 'anyOf')
    const chosen = union ? (limits.length > 0 ? limits : problems.filter((problem) => problem.keyword === 'anyOf')) : problems
    for (const words of new Set(chosen.map(describe))) messages.push(`${field} ${words}`)
  }
  return new Error(messages.length > 0 ? messages.join('; ') : `${WHOLE[dataVar] ?? dataVar} is invalid`)
}
