import inquirer from 'inquirer'
import { InterruptedError } from './errors.js'

/** The answer to a validation: true, or the message shown under the prompt. */
export type Validation = true | string

export interface InputQuestion {
  readonly message: string
  readonly default?: string
  /** Checked as the answer is submitted; a string refuses it and asks again. */
  readonly validate?: (value: string) => Validation | Promise<Validation>
  /** Checked as the answer is typed: a problem shown beside it, undefined when there is none. */
  readonly hint?: (value: string) => string | undefined
}

export interface ConfirmQuestion {
  readonly message: string
  readonly default?: boolean
}

/**
 * Everything the commands ask. Commands receive a Prompter (or none, without a terminal),
 * so tests inject answers and the terminal one is the only user of inquirer.
 */
export interface Prompter {
  input(question: InputQuestion): Promise<string>
  confirm(question: ConfirmQuestion): Promise<boolean>
}

export interface TerminalStreams {
  readonly input: NodeJS.ReadableStream
  readonly output: NodeJS.WritableStream
}

function isPromptExit(error: unknown): boolean {
  // inquirer rejects with ExitPromptError on Ctrl-C (and AbortPromptError on abort).
  const name = (error as { name?: string })?.name
  return name === 'ExitPromptError' || name === 'AbortPromptError'
}

/** inquirer's transformer: the answer as typed, and beside it, until it is final, its problem. */
function withHint(hint: (value: string) => string | undefined) {
  return (value: string, { isFinal }: { isFinal: boolean }): string => {
    const problem = isFinal || value === '' ? undefined : hint(value)
    return problem === undefined ? value : `${value}  ✖ ${problem}`
  }
}

/** A Prompter on a real terminal, through inquirer. Ctrl-C becomes {@link InterruptedError}. */
export function createTerminalPrompter(streams: TerminalStreams): Prompter {
  const prompt = inquirer.createPromptModule({ input: streams.input, output: streams.output })
  async function ask<T>(question: Record<string, unknown>): Promise<T> {
    try {
      // The rule checks the assertion against one of prompt()'s overloads; tsc picks none
      // without it, since a question here is any prompt's.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
      const answers = (await prompt([{ ...question, name: 'value' } as never])) as { value: T }
      return answers.value
    } catch (error) {
      if (isPromptExit(error)) throw new InterruptedError('interrupted at a prompt; nothing was changed')
      throw error
    }
  }
  return {
    input: (question) =>
      ask<string>({
        type: 'input',
        message: question.message,
        ...(question.default !== undefined && { default: question.default }),
        ...(question.validate && { validate: question.validate }),
        ...(question.hint && { transformer: withHint(question.hint) }),
      }),
    confirm: (question) => ask<boolean>({ type: 'confirm', message: question.message, default: question.default ?? false }),
  }
}
