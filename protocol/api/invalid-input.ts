import type { z } from 'zod'

/**
 * A schema's refusal as one line a person can act on, the same for the daemon's API (a
 * request that fails its route's schema) and the CLI (input checked before it is sent):
 * `requirements.gpus: expected a number`. Never zod's JSON dump of its issues.
 */
export function describeIssues (issues: readonly z.core.$ZodIssue[]): string {
  return issues.slice(0, 3).map(issue => `${issue.path.map(String).join('.') || 'request'}: ${issueText(issue)}`).join('; ') +
    (issues.length > 3 ? ` (and ${issues.length - 3} more)` : '')
}

function issueText (issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${article(String(issue.expected))}`
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`
    default: {
      // zod's own messages start "Invalid input: …" or "Too big: …": the part after the colon reads better
      const text = issue.message.replace(/^(Invalid input|Invalid option|Too big|Too small):\s*/i, '')
      return text.charAt(0).toLowerCase() + text.slice(1)
    }
  }
}

const article = (type: string): string => type === 'array' || type === 'object' || type === 'integer' ? `an ${type}` : `a ${type}`

/** `invalid request: requirements.gpus: expected a number` */
export function invalidRequestMessage (error: z.ZodError): string {
  return `invalid request: ${describeIssues(error.issues)}`
}
