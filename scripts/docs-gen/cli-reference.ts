import { Help, type Argument, type Command, type Option } from 'commander'
import { cell, GENERATED_NOTE } from './markdown.js'

/**
 * docs/cli.md from the commander program itself (bin/program.ts): every command, its
 * arguments, its options with their defaults and choices, its description. Nothing here is
 * written by hand but the page's opening, so the reference cannot drift from the CLI.
 */
export function cliReference (program: Command): string {
  const commands = walk(program).slice(1)
  const help = new Help()
  const lines = [
    '# floe CLI reference',
    '',
    GENERATED_NOTE,
    '',
    '`./floe` runs the CLI from a checkout with the right Node; installed as a package, the command is',
    '`floe`. Every command takes `--help`; every listing takes `--json`. `floe daemon` runs the node;',
    'every other command reaches the daemon of the home through its HTTP API ([api.md](api.md)), and',
    'when none runs there says how to start one and exits 1. `FLOE_DEBUG=1` adds stack traces to',
    'CLI errors. A user error prints one line (what failed, why) and exits 1.',
    '',
    '**Refs.** A data ref is `NAME` (latest version), `NAME:N`, or a bare CID; a job\'s output is',
    '`PROJECT/N/output`. A job is `OWNER/PROJECT/N` (as printed), `PROJECT/N`, the project\'s id and',
    '`/N`, or its 32-hex id; a bare `N` is the folder\'s project\'s (else the `default` project\'s). A',
    'project is `NAME` (this node\'s own first), `OWNER/NAME` or its id.',
    '',
    '## Global options',
    '',
    'Given before or after the command: they apply to every one.',
    '',
    ...optionTable(program.options),
    '',
    '## Commands',
    '',
    ...commands.map(c => `- [\`${path(c)}\`](#${anchor(path(c))}) — ${cell(c.description())}`),
    ''
  ]
  for (const command of commands) {
    lines.push(`## \`${path(command)}\``, '', command.description(), '')
    lines.push('```', help.commandUsage(command), '```', '')
    const args = command.registeredArguments
    if (args.length > 0) lines.push('| argument | description | default |', '| --- | --- | --- |', ...args.map(argumentRow), '')
    if (command.options.length > 0) lines.push(...optionTable(command.options), '')
    if (command.commands.length > 0) lines.push(`Subcommands: ${command.commands.map(c => `[\`${c.name()}\`](#${anchor(path(c))})`).join(', ')}.`, '')
  }
  return lines.join('\n')
}

/** The program and every command under it, depth first in declaration order. */
function walk (command: Command): Command[] {
  return [command, ...command.commands.flatMap(walk)]
}

/** `floe data upload` */
function path (command: Command): string {
  const names: string[] = []
  for (let c: Command | null = command; c != null; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

/** GitHub's heading anchor for a heading made of `text` in backticks. */
function anchor (text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')
}

function argumentRow (arg: Argument): string {
  const name = `${arg.required ? '<' : '['}${arg.name()}${arg.variadic ? '...' : ''}${arg.required ? '>' : ']'}`
  return `| \`${name}\` | ${cell(arg.description)} | ${defaultOf(arg.defaultValue, arg.defaultValueDescription)} |`
}

function optionTable (options: readonly Option[]): string[] {
  return [
    '| option | description | default |',
    '| --- | --- | --- |',
    ...options.filter(o => !o.hidden).map(o => {
      const choices = o.argChoices != null ? ` (one of ${o.argChoices.map(c => `\`${c}\``).join(', ')})` : ''
      const repeatable = Array.isArray(o.defaultValue) && o.defaultValue.length === 0 ? ' (repeatable)' : ''
      return `| \`${cell(o.flags)}\` | ${cell(o.description)}${choices}${o.description.includes('repeatable') ? '' : repeatable} | ${Array.isArray(o.defaultValue) && o.defaultValue.length === 0 ? '' : defaultOf(o.defaultValue, o.defaultValueDescription)} |`
    })
  ]
}

function defaultOf (value: unknown, description: string | undefined): string {
  if (description != null) return cell(description)
  if (value === undefined) return ''
  if (value === '') return '`""`'
  return `\`${cell(typeof value === 'string' ? value : JSON.stringify(value))}\``
}
