import t from 'tap'
import { AuthenticationError, ConflictError, ValidationError } from '../../src/index.js'
import { makeTenant, setupServices } from '../helpers.js'

t.test('the same email in two tenants is two accounts', async (t) => {
  const { db, services } = await setupServices(t)
  const a = (await makeTenant(services, 'a')).tenant
  const b = (await makeTenant(services, 'b')).tenant
  const inA = await services.users.registerUser(a, { email: 'Ann@Example.com ', password: 'password-a', name: 'Ann' })
  const inB = await services.users.registerUser(b, { email: 'ann@example.com', password: 'password-b' })
  t.equal(inA.email, 'ann@example.com', 'normalised')
  t.equal(inB.name, null)
  t.equal((await services.users.authenticateUser(a, 'ANN@example.com', 'password-a')).id, inA.id)
  await t.rejects(services.users.authenticateUser(a, 'ann@example.com', 'password-b'), AuthenticationError)
  t.equal((await services.users.authenticateUser(b, 'ann@example.com', 'password-b')).id, inB.id)
  t.notOk('passwordHash' in inA, 'no hash returned')
  const [stored] = await db.sql`select password_hash from ${db.sql(a.schemaName)}.users`
  t.match(stored!.passwordHash, /^\$2[aby]\$10\$/, 'bcrypt at the configured cost')
})

t.test('duplicate email in one tenant is EMAIL_TAKEN', async (t) => {
  const { services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  await services.users.registerUser(tenant, { email: 'x@example.com', password: 'password1' })
  await t.rejects(services.users.registerUser(tenant, { email: 'X@EXAMPLE.COM', password: 'password2' }), ConflictError)
  await t.rejects(services.users.registerUser(tenant, { email: 'x@example.com', password: 'password2' }), { code: 'EMAIL_TAKEN' })
})

t.test('passwords must be 8 to 72 bytes and emails valid', async (t) => {
  const { services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  const bad = [
    { email: 'a@example.com', password: 'short' },
    { email: 'a@example.com', password: 'x'.repeat(73) },
    { email: 'a@example.com', password: 'é'.repeat(37) },
    { email: 'not-an-email', password: 'password1' },
    { email: '', password: 'password1' },
    { email: 'a@example.com', password: 'password1', name: 'n'.repeat(201) },
  ]
  for (const input of bad) await t.rejects(services.users.registerUser(tenant, input), ValidationError, JSON.stringify(input).slice(0, 60))
  t.ok(await services.users.registerUser(tenant, { email: 'ok@example.com', password: 'x'.repeat(72) }))
})

t.test('unknown email and wrong password fail the same way', async (t) => {
  const { services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  await services.users.registerUser(tenant, { email: 'real@example.com', password: 'password1' })
  const unknown = await services.users.authenticateUser(tenant, 'ghost@example.com', 'password1').catch((e: unknown) => e)
  const wrong = await services.users.authenticateUser(tenant, 'real@example.com', 'password2').catch((e: unknown) => e)
  const tooLong = await services.users.authenticateUser(tenant, 'real@example.com', 'x'.repeat(200)).catch((e: unknown) => e)
  for (const error of [unknown, wrong, tooLong]) {
    t.type(error, AuthenticationError)
    t.equal((error as AuthenticationError).code, 'INVALID_CREDENTIALS')
    t.equal((error as AuthenticationError).message, 'invalid email or password')
  }
})
