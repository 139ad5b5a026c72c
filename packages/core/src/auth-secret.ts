import { randomBytes } from 'node:crypto'
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ConfigError } from './errors.js'

/** The file, under the data folder, that keeps the development JWT secret between runs. */
const JWT_SECRET_FILE = 'jwt-secret'

/**
 * The secret that signs access tokens: `JWT_SECRET` when it is set (loadConfig requires it
 * outside embedded mode), otherwise one generated once and kept in `<dataDir>/jwt-secret`
 * (mode 0600), so tokens survive a restart of the development server. Two processes
 * starting at once agree: the first link wins and the other reads it.
 */
export async function loadOrCreateJwtSecret(config: {
  readonly dataDir: string
  readonly auth: { readonly jwtSecret: string | undefined }
}): Promise<string> {
  if (config.auth.jwtSecret !== undefined) return config.auth.jwtSecret
  const file = path.join(config.dataDir, JWT_SECRET_FILE)
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
  // Written aside, then linked into place: link() fails if the file exists, so a reader
  // never sees a half-written secret and a concurrent start keeps the first one.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(draft, `${randomBytes(48).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 })
  try {
    await link(draft, file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  } finally {
    await rm(draft, { force: true })
  }
  const secret = (await readFile(file, 'utf8')).trim()
  if (Buffer.byteLength(secret) < 32) {
    throw new ConfigError([`${file} holds a JWT secret shorter than 32 bytes: delete it to generate a new one`])
  }
  return secret
}
