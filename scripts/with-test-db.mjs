#!/usr/bin/env node
// Runs a command with TEST_DATABASE_URL pointing at a PostgreSQL server: the one given in
// TEST_DATABASE_URL or DATABASE_URL, or else a throwaway embedded cluster started here,
// once for the whole test run, and removed afterwards with its folder. Each test file then creates its
// own database inside it (see @tenantbase/core/testing).
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startEmbeddedCluster } from '@tenantbase/core'
import { freePort } from '@tenantbase/core/testing'

const [command, ...args] = process.argv.slice(2)
if (!command) {
  console.error('usage: with-test-db.mjs <command> [args...]')
  process.exit(2)
}

let cluster
let folder
const given = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL
if (!given) {
  folder = await mkdtemp(path.join(tmpdir(), 'tenantbase-test-'))
  cluster = await startEmbeddedCluster({
    dataDir: path.join(folder, 'pg'),
    port: await freePort(),
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
    persistent: false,
  })
}

const child = spawn(command, args, {
  stdio: 'inherit',
  env: { ...process.env, TEST_DATABASE_URL: given || cluster.url },
})
const forward = (signal) => child.kill(signal)
process.on('SIGINT', forward)
process.on('SIGTERM', forward)
child.on('exit', async (code, signal) => {
  await cluster?.stop()
  if (folder) await rm(folder, { recursive: true, force: true })
  process.exit(code ?? (signal ? 1 : 0))
})
