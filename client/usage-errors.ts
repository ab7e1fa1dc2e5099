import type { Command, Option } from 'commander'
import { shellQuote } from '../protocol/shell-words.js'
import { findProjectLink, LINK_FILE } from './project-link.js'

/** Commands whose arguments after the options are the job's command. */
const TAKES_A_COMMAND = new Set(['run', 'rerun', 'restart'])

/**
 * Commander's usage errors, made to say what to do: `floe run python3 train.py --lr 0.1`
 * (no `--`) reads `--lr` as floe's option, so the error shows the command line with the
 * job's command after `--`. Every command prints its usage errors as `floe CMD: …`.
 */
export function explainUsageErrors (program: Command, argv: readonly string[] = process.argv): void {
  const visit = (cmd: Command): void => {
    if (cmd !== program) {
      cmd.configureOutput({ outputError: (text, write) => { write(usageError(cmd, text, argv)) } })
    }
    for (const sub of cmd.commands) visit(sub)
  }
  visit(program)
}

/** One line for a commander error `text` raised while parsing `cmd`'s arguments. */
export function usageError (cmd: Command, text: string, argv: readonly string[]): string {
  const message = text.trim().replace(/^error: /, '')
  const path = commandPath(cmd)
  const unknown = /^unknown option '([^']+)'/.exec(message)
  if (unknown != null && TAKES_A_COMMAND.has(cmd.name()) && cmd.parent?.parent == null) {
    const split = splitJobCommand(cmd, argv)
    if (split != null && split.command.length > 0) {
      return `floe ${path}: ${message}; put the job's command after --: floe ${path} ${shellQuote([...split.options, '--', ...split.command])}\n`
    }
  }
  return `floe ${path}: ${message}${unknown != null ? `; see floe ${path} --help` : ''}\n`
}

/**
 * The words after `floe CMD`: floe's options (with their values), then from the first word
 * that is not one, the job's command (undefined when an unknown option comes first).
 */
export function splitJobCommand (cmd: Command, argv: readonly string[]): { options: string[], command: string[] } | undefined {
  const words = argv.slice(2)
  const at = words.indexOf(cmd.name())
  if (at < 0) return undefined
  const known: Option[] = [...cmd.options, ...(cmd.parent?.options ?? [])]
  const options: string[] = []
  for (let i = at + 1; i < words.length; i++) {
    const word = words[i] as string
    if (word === '--') return { options, command: words.slice(i + 1) }
    if (!word.startsWith('-')) return { options, command: words.slice(i) }
    const option = known.find(o => o.long === word.split('=')[0] || o.short === word)
    // an unknown option before any word of a command is floe's, mistyped: no command to move
    if (option == null) return undefined
    options.push(word)
    if (option.required && !word.includes('=') && i + 1 < words.length) options.push(words[++i] as string)
  }
  return { options, command: [] }
}

function commandPath (cmd: Command): string {
  const names: string[] = []
  for (let c: Command | null = cmd; c?.parent != null; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

/**
 * A daemon's error, with what only the CLI knows: which project a bare job number was read
 * in (the folder's link chose it).
 */
export async function explainApiError (err: any, folder = '.'): Promise<string> {
  const message = String(err?.message ?? err)
  if (err?.name !== 'JobNotFoundError') return message
  const link = await findProjectLink(folder).catch(() => undefined)
  if (link == null) return message
  const named = `in project ${link.name}; see floe status --project ${link.name}`
  return message.includes(named) ? message.replace(named, `in project ${link.name} (this folder's, from ${LINK_FILE}); see floe status`) : message
}
