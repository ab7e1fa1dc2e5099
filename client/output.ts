import Table from 'cli-table3'

/** The CLI's only writers to stdout: JSON for scripts, tables and lines for people. */
export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

export function printLines (lines: string[]): void {
  process.stdout.write(lines.map(line => line + '\n').join(''))
}

/** A borderless table in the style of `docker ps`. */
export function printTable (head: string[], rows: string[][]): void {
  const table = new Table({
    head,
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 }
  })
  table.push(...rows)
  process.stdout.write(table.toString() + '\n')
}

export { ago } from '../protocol/format.js'
