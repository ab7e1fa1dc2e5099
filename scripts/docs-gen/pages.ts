import { floeProgram } from '../../bin/program.js'
import { apiReference } from './api-reference.js'
import { cliReference } from './cli-reference.js'

/** The generated pages: where each is committed, and how it is made. */
export const GENERATED_PAGES: ReadonlyArray<{ path: string, render: () => string }> = [
  { path: 'docs/cli.md', render: () => cliReference(floeProgram()) },
  { path: 'docs/api.md', render: () => apiReference() }
]

/** The command that writes them again. */
export const REGENERATE = './scripts/docs'
