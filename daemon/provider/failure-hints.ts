import { RECIPES } from '../../protocol/environments/environment.js'

/** What is known of a failed job, for a hint at its cause. */
export interface FailureFacts {
  command: readonly string[]
  environment: string
  /** the job had the network */
  network: boolean
  /** its container's exit code (null: it did not end in its container) */
  exitCode: number | null
  /** why it failed before it ended in its container (the engine's words), if it did */
  failure: string | null
  /** the last lines the job printed (stdout and stderr) */
  lines: readonly string[]
}

/** What a program prints when it tries the network in a container without one. */
const NETWORK_OFF = /Network is unreachable|No route to host|bad address '|Temporary failure in name resolution|Name or service not known|Could not resolve host|getaddrinfo (ENOTFOUND|EAI_AGAIN)|No address associated with hostname|nodename nor servname|Failed to establish a new connection|unable to resolve host|Could not resolve '|Connection refused.*(pypi|http)/i
/** A program that fetches over the network (busybox wget may die of SIGSEGV after a failed lookup). */
const FETCHER = /\b(wget|curl|pip3?|apt(-get)?|git|npm|conda|huggingface-cli)\b/

const SHELLS = new Set(['sh', '/bin/sh', 'bash', '/bin/bash'])

/** The program the engine could not find, from its error (runc: `exec: "X": executable file not found`; runsc: `error finding executable "X"`). */
function missingExecutable (failure: string | null): string | null {
  if (failure == null) return null
  const match = /exec: "([^"]+)": (?:executable file not found|no such file or directory)|error finding executable "([^"]+)"|exec: "([^"]+)": stat [^:]+: no such file/.exec(failure)
  return match == null ? null : match[1] ?? match[2] ?? match[3] ?? null
}

/** A program a shell could not find (exit 127): `sh: X: not found`, `bash: X: command not found`. */
function shellNotFound (lines: readonly string[]): string | null {
  for (const line of [...lines].reverse()) {
    const match = /^(?:\/bin\/)?(?:sh|bash|dash|ash)(?::\s*\d+)?:\s*(?:line \d+:\s*)?(\S+):\s*(?:command )?not found/.exec(line.trim())
    if (match != null) return match[1] ?? null
  }
  return null
}

const RECIPE_LIST = RECIPES.join(', ')

/**
 * Why a job failed, when floe can tell: the network is off and the job's output says it
 * tried to use it; the command is not in the environment's image; the image has no shell for
 * a command floe runs through `sh -c`. One line, naming the cause and the fix; null when the
 * failure has no cause floe knows.
 */
export function failureHint (facts: FailureFacts): string | null {
  const program = facts.command[0] ?? ''
  const missing = missingExecutable(facts.failure)
  if (missing != null) {
    if (SHELLS.has(missing)) {
      return `environment ${facts.environment} has no shell (${missing}): a command with spaces or shell syntax runs through sh -c; give the program and its arguments as separate words after --, or use an environment with a shell (floe env ls; recipes: ${RECIPE_LIST})`
    }
    return `command "${missing}" is not in environment ${facts.environment}: run it in an environment that has it (floe run --env NAME; floe env ls lists those held here, floe env build --recipe builds ${RECIPE_LIST}, floe env pull IMAGE takes one from a registry)`
  }
  if (facts.exitCode === 127) {
    const notFound = shellNotFound(facts.lines) ?? (facts.lines.length === 0 ? program : null)
    if (notFound != null) {
      return `command "${notFound}" is not in environment ${facts.environment} (exit code 127): run it in an environment that has it (floe run --env NAME; floe env ls lists those held here, floe env build --recipe builds ${RECIPE_LIST}, floe env pull IMAGE takes one from a registry)`
    }
  }
  if (!facts.network) {
    const said = facts.lines.find(line => NETWORK_OFF.test(line))
    const crashedFetcher = facts.exitCode === 139 && (FETCHER.test(facts.command.join(' ')) || facts.lines.some(line => FETCHER.test(line)))
    if (said != null || crashedFetcher) {
      const evidence = said != null ? `its output says "${said.trim().slice(0, 120)}"` : 'a program that fetches over the network crashed (exit code 139, Segmentation fault)'
      return `the job has no network (jobs run offline unless they ask for it), and ${evidence}: put what it downloads in the environment (a requirements.txt in the code folder or floe run --requirements FILE builds one on your machine; floe env build --apt PKG…), bring data with --data, or ask for the network with --network (providers may refuse it)`
    }
  }
  return null
}
