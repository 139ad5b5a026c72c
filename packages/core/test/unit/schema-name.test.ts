import t from 'tap'
import { ValidationError } from '../../src/index.js'
import { assertValidSchemaName, schemaNameProblem, suggestSchemaName } from '../../src/db/schema-name.js'

t.test('accepts plain lowercase names', async (t) => {
  for (const name of ['acme', 'a', 'tenant_42', 'a'.repeat(63)]) t.equal(schemaNameProblem(name), undefined, name)
})

t.test('rejects hostile and reserved names', async (t) => {
  const hostile = [
    'a"; drop schema public; --',
    'PUBLIC',
    'public',
    'information_schema',
    'pg_x',
    'pg_catalog',
    'a'.repeat(64),
    'é'.repeat(32),
    'tenànt',
    '',
    '1acme',
    '_acme',
    'acme-co',
    'acme co',
    'acme\u0000',
    'Acme',
  ]
  for (const name of hostile) {
    t.not(schemaNameProblem(name), undefined, JSON.stringify(name))
    t.throws(() => assertValidSchemaName(name), ValidationError)
  }
  for (const value of [undefined, null, 42, {}, ['acme']]) t.not(schemaNameProblem(value), undefined, String(value))
})

t.test('the error has a stable code', async (t) => {
  try {
    assertValidSchemaName('pg_x')
    t.fail('should throw')
  } catch (error) {
    t.equal((error as ValidationError).code, 'INVALID_SCHEMA_NAME')
  }
})

t.test('suggests valid names from display names', async (t) => {
  const cases: [string, string][] = [
    ['Acme Inc.', 'acme_inc'],
    ['  Café Müller ', 'cafe_muller'],
    ['42 Widgets', 't_42_widgets'],
    ['Public', 'public_tenant'],
    ['pg stuff', 't_pg_stuff'],
  ]
  for (const [input, expected] of cases) t.equal(suggestSchemaName(input), expected, input)
  const long = suggestSchemaName('x'.repeat(100))
  t.equal(long.length, 63)
  for (const input of ['!!!', 'Ωmega', 'a b c'.repeat(40)]) t.equal(schemaNameProblem(suggestSchemaName(input)), undefined, input)
})
