import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { childEnv } from './helpers.js'

const run = promisify(execFile)

/**
 * A real pseudo-terminal: a tmux server of our own (its own socket), one window running a
 * command. Tests type into it with send-keys and read the screen with capture-pane.
 */
export interface Terminal {
  /** Types text literally (no key names), without Enter. */
  type(text: string): Promise<void>
  /** Presses keys by tmux name: Enter, C-c, C-u, BSpace... */
  press(...keys: string[]): Promise<void>
  /** The screen and scrollback, wrapped lines joined. */
  screen(): Promise<string>
  /** Waits until the screen matches, and returns the match; fails the test with the screen if it never does. */
  waitFor(pattern: RegExp, what: string): Promise<RegExpMatchArray>
}

/**
 * Starts `command` (a shell command line) in a new tmux server with `env`. After the
 * command ends the window prints `[exit:<code>]` and stays open so its output can be read.
 */
export async function openTerminal(t: Test, command: string, env: Record<string, string>): Promise<Terminal> {
  const socket = `tenantctl-test-${randomBytes(4).toString('hex')}`
  const tmux = (...args: string[]) => run('tmux', ['-L', socket, ...args], { env: childEnv(env) })
  await tmux('new-session', '-d', '-s', 'main', '-x', '200', '-y', '50', `${command}; echo "[exit:$?]"; sleep 600`)
  t.teardown(() => tmux('kill-server').catch(() => {}))

  async function screen(): Promise<string> {
    const { stdout } = await tmux('capture-pane', '-p', '-J', '-S', '-500', '-t', 'main')
    return stdout
  }
  return {
    type: async (text) => void (await tmux('send-keys', '-t', 'main', '-l', text)),
    press: async (...keys) => void (await tmux('send-keys', '-t', 'main', ...keys)),
    screen,
    async waitFor(pattern, what) {
      // A hang guard, not a timing assertion: a prompt that never comes fails with the screen shown.
      const deadline = Date.now() + 30_000
      for (;;) {
        const text = await screen()
        const match = text.match(pattern)
        if (match) return match
        if (Date.now() > deadline) {
          t.fail(`the terminal never showed ${what}; screen:\n${text}`)
          throw new Error(`no ${what}`)
        }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    },
  }
}
