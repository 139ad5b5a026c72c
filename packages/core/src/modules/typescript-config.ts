import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

/** The folder, beside a config's own `node_modules`, where its compiled copies are kept. */
const CACHE_FOLDER = path.join('node_modules', '.cache', 'tenantbase')

/** A relative import of a file Node cannot load without a loader (TypeScript, or no extension). */
class NeedsLoader extends Error {}

/**
 * Imports a TypeScript config on a Node.js that does not strip types (20). Where the config
 * imports only packages and JavaScript files, it is compiled to JavaScript once (esbuild),
 * kept in `node_modules/.cache/tenantbase/` beside it under a name that is its content's
 * hash, and imported from there: each later process (every `tenantctl` command) starts
 * without a loader. The copy imports what the config imports: packages by name (resolved from
 * the same `node_modules`), its own files by absolute URL, and `import.meta.url` is the
 * config's. A config that imports TypeScript files of its own or its own package by name, or
 * that has no `node_modules` beside it to keep the copy in, goes through tsx's loader instead.
 *
 * NOTE: tsx's loader is registered in the process's own module graph (not tsx's isolated
 * `tsImport`), so that the config and its modules share this process's instance of core: a
 * module's errors must be core's classes for the API's error handler to map them.
 */
export async function importTypeScriptConfig(file: string): Promise<unknown> {
  const compiled = await compiledCopy(file).catch((error: unknown) => {
    if (error instanceof NeedsLoader) return undefined
    throw error
  })
  if (compiled !== undefined) return import(pathToFileURL(compiled).href)
  const { register } = await import('tsx/esm/api')
  const unregister = register()
  try {
    return await import(pathToFileURL(file).href)
  } finally {
    await unregister()
  }
}

/** The compiled copy of `file`, made now unless one of its content is there. */
async function compiledCopy(file: string): Promise<string> {
  const modules = path.join(path.dirname(file), 'node_modules')
  if (!existsSync(modules)) throw new NeedsLoader()
  const source = await readFile(file)
  const hash = createHash('sha256').update(file).update('\0').update(source).digest('hex').slice(0, 24)
  const copy = path.join(path.dirname(file), CACHE_FOLDER, `${path.basename(file)}.${hash}.mjs`)
  if (existsSync(copy)) return copy
  const javascript = await compile(file)
  await mkdir(path.dirname(copy), { recursive: true })
  // Written whole, then renamed: a process that starts meanwhile reads no half a file.
  const partial = `${copy}.${process.pid}.partial`
  await writeFile(partial, javascript)
  await rename(partial, copy)
  return copy
}

/** The name of the package `file` belongs to (its nearest package.json's), if it has one. */
async function ownPackageName(file: string): Promise<string | undefined> {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => undefined)
    if (manifest !== undefined) return (JSON.parse(manifest) as { name?: string }).name
    if (path.dirname(dir) === dir) return undefined
  }
}

/** `file` as one JavaScript module whose imports point where the config's do. */
async function compile(file: string): Promise<string> {
  const { build } = await import('esbuild')
  const url = pathToFileURL(file).href
  // A package's import of itself by name, or of its `#imports`, resolves only from inside it:
  // not from the copy in node_modules.
  const ownName = await ownPackageName(file)
  const selfReference = (specifier: string) =>
    specifier.startsWith('#') || (ownName !== undefined && (specifier === ownName || specifier.startsWith(`${ownName}/`)))
  const result = await build({
    entryPoints: [file],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    logLevel: 'silent',
    define: {
      'import.meta.url': JSON.stringify(url),
      'import.meta.filename': JSON.stringify(file),
      'import.meta.dirname': JSON.stringify(path.dirname(file)),
    },
    plugins: [
      {
        name: 'keep-imports',
        setup(compiler) {
          compiler.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point') return undefined
            const specifier = args.path
            const local = specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:')
            if (!local && selfReference(specifier)) throw new NeedsLoader()
            if (!local) return { path: specifier, external: true }
            const target = specifier.startsWith('file:') ? new URL(specifier).pathname : path.resolve(args.resolveDir, specifier)
            if (!/\.(m|c)?js$|\.json$/.test(target)) throw new NeedsLoader()
            return { path: pathToFileURL(target).href, external: true }
          })
        },
      },
    ],
  }).catch((error: unknown) => {
    // esbuild reports a plugin's throw as its own error, with the thrown one among its causes.
    const errors = (error as { errors?: { detail?: unknown }[] }).errors ?? []
    if (errors.some((problem) => problem.detail instanceof NeedsLoader)) throw new NeedsLoader()
    throw error
  })
  return result.outputFiles[0]!.text
}
