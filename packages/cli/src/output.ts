import { Chalk, supportsColor, type ChalkInstance } from 'chalk'
import cliProgress from 'cli-progress'
import stringWidth from 'string-width'

/** A stream the cli writes to: process.stdout/stderr, or a test's capture. */
export interface OutputStream {
  write(chunk: string): boolean
  readonly isTTY?: boolean
}

export interface OutputOptions {
  readonly stdout: OutputStream
  readonly stderr: OutputStream
  readonly env: Record<string, string | undefined>
  /** Machine output: stdout carries one JSON document and nothing else. */
  readonly json: boolean
}

/** Colours a command may use; all are identity functions when colour is off. */
export interface Styles {
  bold(text: string): string
  dim(text: string): string
  green(text: string): string
  red(text: string): string
  yellow(text: string): string
}

/** One finished tenant, as the progress display needs it. */
export interface ProgressItem {
  readonly schema: string
  readonly ok: boolean
  /** The schema's migration state before and after, as people read it. */
  readonly from: string
  readonly to: string
  readonly error?: string
  readonly ms: number
}

/** Draws a long run: a bar in a terminal, one line per item otherwise. */
export interface Progress {
  start(total: number): void
  itemDone(item: ProgressItem, counts: { done: number; failed: number; total: number }): void
  stop(): void
}

/** Rows and bytes of one tenant going by (an export's, import's or restore's). */
export interface TransferStep {
  readonly table: string
  readonly rows: number
  readonly totalRows: number
  readonly bytes: number
}

/** Draws a transfer: a bar with rows, bytes and ETA in a terminal, a line per table otherwise. */
export interface TransferProgress {
  update(step: TransferStep): void
  stop(): void
}

/** Bytes for people: `512 B`, `3.2 MB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

export interface Output {
  readonly json: boolean
  /** Styles for stdout. */
  readonly style: Styles
  /** Styles for {@link Output.note}'s stream. */
  readonly noteStyle: Styles
  /** A line of human output on stdout (never call in JSON mode). */
  line(text?: string): void
  /** Progress and notes: stdout for people, stderr in JSON mode so stdout stays parseable. */
  note(text: string): void
  /** An error line on stderr. */
  error(text: string): void
  /** The command's JSON result on stdout. */
  writeJson(value: unknown): void
  /** A plain table on stdout. */
  table(head: readonly string[], rows: readonly (readonly string[])[]): void
  /** A progress display for `total` items. */
  progress(label: string): Progress
  /** A progress display for rows and bytes. */
  transfer(label: string): TransferProgress
}

/** Colour only for a terminal, and never under NO_COLOR (https://no-color.org). */
function colourLevel(stream: OutputStream, env: Record<string, string | undefined>): 0 | 1 | 2 | 3 {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0
  if (!stream.isTTY) return 0
  if (env.TERM === 'dumb') return 0
  return supportsColor ? supportsColor.level : 1
}

function stylesOf(chalk: ChalkInstance): Styles {
  return {
    bold: (text) => chalk.bold(text),
    dim: (text) => chalk.dim(text),
    green: (text) => chalk.green(text),
    red: (text) => chalk.red(text),
    yellow: (text) => chalk.yellow(text),
  }
}

/** A cell's width as displayed: plain printable ASCII is its length; anything else is measured. */
function displayWidth(cell: string): number {
  return /^[\x20-\x7e]*$/.test(cell) ? cell.length : stringWidth(cell)
}

/**
 * Columns padded to their widest cell (measured as displayed: colour codes and wide
 * characters included), two spaces apart. Linear in the number of rows, each cell measured
 * once: `status` prints one row per tenant.
 */
export function formatTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [head, ...rows]
  const cellWidths = all.map((row) => row.map(displayWidth))
  const widths = head.map((_, column) => cellWidths.reduce((widest, row) => Math.max(widest, row[column] ?? 0), 0))
  return all
    .map((row, index) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell + ' '.repeat(widths[column]! - cellWidths[index]![column]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/**
 * Resolves once everything written to each stream has been handed to the operating system.
 * A pipe takes 64 KiB before its reader reads; the rest waits in the process, and
 * process.exit drops it (a `list --json` over a thousand tenants, cut short).
 */
export async function flushed(streams: readonly NodeJS.WritableStream[]): Promise<void> {
  await Promise.all(streams.map((stream) => new Promise((resolve) => stream.write('', resolve))))
}

export function createOutput(options: OutputOptions): Output {
  const { stdout, stderr, env, json } = options
  const style = stylesOf(new Chalk({ level: colourLevel(stdout, env) }))
  const errStyle = stylesOf(new Chalk({ level: colourLevel(stderr, env) }))
  const notes = json ? stderr : stdout
  const noteStyle = json ? errStyle : style

  function progress(label: string): Progress {
    const useBar = Boolean(stderr.isTTY) && !json
    let bar: cliProgress.SingleBar | undefined
    return {
      start(total) {
        if (!useBar || total === 0) return
        bar = new cliProgress.SingleBar(
          {
            stream: stderr as unknown as NodeJS.WritableStream,
            format: `${label} {bar} {value}/{total} | failed {failed} | ETA {eta_formatted}`,
            hideCursor: true,
            etaBuffer: 50,
            fps: 10,
          },
          cliProgress.Presets.shades_classic,
        )
        bar.start(total, 0, { failed: 0 })
      },
      itemDone(item, counts) {
        if (bar) {
          bar.update(counts.done, { failed: counts.failed })
          return
        }
        const position = noteStyle.dim(`[${counts.done}/${counts.total}]`)
        const outcome = item.ok
          ? `${noteStyle.green('ok')} ${item.from} -> ${item.to} (${item.ms} ms)`
          : `${noteStyle.red('FAILED')} ${item.error ?? ''}`
        notes.write(`${position} ${item.schema} ${outcome}\n`)
      },
      stop() {
        bar?.stop()
        bar = undefined
      },
    }
  }

  function transfer(label: string): TransferProgress {
    const useBar = Boolean(stderr.isTTY) && !json
    let bar: cliProgress.SingleBar | undefined
    let table: string | undefined
    let last: TransferStep | undefined
    const tableLine = (step: TransferStep) =>
      notes.write(`  ${noteStyle.dim(`[${step.rows}/${step.totalRows} rows]`)} ${step.table} (${formatBytes(step.bytes)})\n`)
    return {
      update(step) {
        if (useBar) {
          if (!bar) {
            bar = new cliProgress.SingleBar(
              {
                stream: stderr as unknown as NodeJS.WritableStream,
                format: `${label} {bar} {percentage}% | {value}/{total} rows | {size} | {table} | ETA {eta_formatted}`,
                hideCursor: true,
                etaBuffer: 50,
                fps: 10,
              },
              cliProgress.Presets.shades_classic,
            )
            bar.start(Math.max(step.totalRows, 1), 0, { size: formatBytes(0), table: step.table })
          }
          bar.update(step.rows, { size: formatBytes(step.bytes), table: step.table })
          return
        }
        if (table !== undefined && step.table !== table && last) tableLine(last)
        table = step.table
        last = step
      },
      stop() {
        if (bar) {
          bar.stop()
          bar = undefined
        } else if (last) {
          tableLine(last)
          last = undefined
        }
      },
    }
  }

  return {
    json,
    style,
    noteStyle,
    line: (text = '') => void stdout.write(`${text}\n`),
    note: (text) => void notes.write(`${text}\n`),
    error: (text) => void stderr.write(`${errStyle.red('error:')} ${text}\n`),
    writeJson: (value) => void stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    table(head, rows) {
      stdout.write(
        `${formatTable(
          head.map((title) => style.bold(title)),
          rows,
        )}\n`,
      )
    },
    progress,
    transfer,
  }
}

/**
 * A timestamp as every command prints it: ISO 8601 in UTC to the minute (or the second),
 * `2026-11-27T16:05Z`, so no reader has to guess the time zone.
 */
export function formatTime(date: Date | null | undefined, withSeconds = false): string {
  if (!date) return '-'
  return `${date.toISOString().slice(0, withSeconds ? 19 : 16)}Z`
}
