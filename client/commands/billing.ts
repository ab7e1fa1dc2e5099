import { Command, Option } from 'commander'
import { creditsOf, parseCredits } from '../../protocol/billing/credits.js'
import type { BudgetView, JobSpend } from '../../protocol/billing/view.js'
import { shortPeer } from '../../protocol/format.js'
import { printJson, printLines, printTable } from '../output.js'
import { findProjectLink } from '../project-link.js'
import { action } from './action.js'

/** Credits as the ledger counts them: up to 6 places, no float noise. */
const credits = (n: number): string => String(Number(n.toFixed(6)))

/** A budget in one line: `project alice/mnist: 12.5 of 50 credits left this day`. */
export function budgetLine (b: BudgetView): string {
  const when = b.per === 'total' ? 'in all' : `this ${b.per}`
  return `${b.scope === 'node' ? 'node' : `project ${b.name}`}: ${credits(b.left)} of ${credits(b.limit)} credits left ${when} (${credits(b.spent)} spent)`
}

/** Jobs as CSV, a row per lease (a retried job has one per provider it ran on), RFC 4180 quoting. */
function csv (jobs: JobSpend[]): string {
  const quote = (v: unknown): string => { const s = v == null ? '' : String(v); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s }
  const head = ['job_id', 'lease_id', 'ref', 'project', 'peer', 'day', 'credits', 'price_per_hour', 'final', 'receipt_credits', 'disputed']
  return [head.join(','), ...jobs.map(j => [j.jobId, j.leaseId, j.ref, j.project, j.peer, j.day, credits(j.credits), j.pricePerHour, j.final, j.receiptCredits == null ? '' : credits(j.receiptCredits), j.disputed].map(quote).join(','))].join('\n') + '\n'
}

/** `floe billing`: spend by project, provider, day and job; `statement PEER`, `settle PEER`. */
export function billingCommand (): Command {
  const billing = new Command('billing')
    .description('what this node spent as a client: by project, provider, day and job; budgets; balances with each peer')
    .option('--project <project>', 'only this project')
    .addOption(new Option('--csv', 'every job as CSV, a row per lease'))
    .action(action(async (client, _args, opts) => {
      const summary = await client.call('billingSummary', opts.project != null ? { project: opts.project } : {})
      if (opts.json === true) return printJson(summary)
      if (opts.csv === true) { process.stdout.write(csv(summary.jobs)); return }
      printLines([`spent ${credits(summary.spent)} credits on ${new Set(summary.jobs.map(j => j.jobId)).size} metered job(s)`, ...summary.budgets.map(budgetLine), ''])
      if (summary.byProject.length > 0) { printTable(['PROJECT', 'JOBS', 'CREDITS'], summary.byProject.map(p => [p.project, String(p.jobs), credits(p.credits)])); printLines(['']) }
      if (summary.byProvider.length > 0) { printTable(['PROVIDER', 'JOBS', 'CREDITS'], summary.byProvider.map(p => [p.peer, String(p.jobs), credits(p.credits)])); printLines(['']) }
      if (summary.byDay.length > 0) { printTable(['DAY', 'CREDITS'], summary.byDay.map(d => [d.day, credits(d.credits)])); printLines(['']) }
      if (summary.jobs.length > 0) {
        printTable(['JOB', 'PROVIDER', 'DAY', 'CREDITS', 'RECEIPT', 'STATE'], summary.jobs.map(j => [
          j.ref ?? j.jobId.slice(0, 12), shortPeer(j.peer), j.day, credits(j.credits), j.receiptCredits == null ? '-' : credits(j.receiptCredits), j.disputed != null ? 'disputed' : j.final ? 'final' : 'running'
        ]))
      }
      if (summary.balances.length > 0) {
        printLines(['', 'balances (net of settlements):'])
        printTable(['PEER', 'JOBS', 'YOU OWE', 'REFUSED'], summary.balances.map(b => [b.peer, String(b.jobs), credits(b.owes), String(b.refused)]))
      }
    }))
  billing.command('statement').description("exchange signed ledger statements with PEER: agreed, or the jobs where the two differ")
    .argument('<peer>', 'the peer id')
    .action(action(async (client, args, opts) => {
      const result = await client.call('billingStatement', { peer: args[0] ?? '' })
      if (opts.json === true) return printJson(result)
      if (result.agree) return printLines([`agree with ${result.peer} on ${result.jobs} job(s): you owe ${credits(result.ours)} credits net`])
      printLines([`differ with ${result.peer} on ${result.differing.length} of ${result.jobs} job(s): you owe ${credits(result.ours)} by your ledger, ${credits(result.theirs)} by theirs`])
      printTable(['JOB', 'YOURS', 'THEIRS'], result.differing.map(d => [d.jobId, d.ours == null ? '-' : credits(d.ours), d.theirs == null ? '-' : credits(d.theirs)]))
      process.exitCode = 1
    }))
  billing.command('settle').description('record that the net balance with PEER was settled outside floe: both sign a settlement entry (statements must agree)')
    .argument('<peer>', 'the peer id')
    .action(action(async (client, args, opts) => {
      const settled = await client.call('billingSettle', { peer: args[0] ?? '' })
      if (opts.json === true) return printJson(settled)
      printLines([`settled with ${settled.peer}: ${credits(settled.net)} credits net over ${settled.jobs} job(s), signed by both`])
    }))
  return billing
}

/** `floe provider earnings`: what this node earned as a provider, by client and day. */
export function earningsCommand (): Command {
  return new Command('earnings').description('what this node earned as a provider: by client and day (from the vouchers its clients signed)')
    .addOption(new Option('--csv', 'every job as CSV, a row per lease'))
    .action(action(async (client, _args, opts) => {
      const earnings = await client.call('billingEarnings', {})
      if (opts.json === true) return printJson(earnings)
      if (opts.csv === true) { process.stdout.write(csv(earnings.jobs)); return }
      printLines([`earned ${credits(earnings.earned)} credits on ${earnings.jobs.length} metered job(s)`, ''])
      if (earnings.byClient.length > 0) { printTable(['CLIENT', 'JOBS', 'CREDITS', 'REFUSED'], earnings.byClient.map(c => [c.peer, String(c.jobs), credits(c.credits), String(c.refused)])); printLines(['']) }
      if (earnings.byDay.length > 0) printTable(['DAY', 'CREDITS'], earnings.byDay.map(d => [d.day, credits(d.credits)]))
    }))
}

/** `floe project budget set AMOUNT [--per day|month|total]`, `floe project budget show`, `floe project budget rm`. */
export function budgetCommand (): Command {
  const budget = new Command('budget').description("a project's spending limit: a job whose worst case passes what is left is refused unless --allow-partial")
  const projectOf = async (opts: Record<string, any>): Promise<string | undefined> => opts.project ?? (await findProjectLink('.'))?.id
  budget.command('set').description('set the budget: credits per day, per month (the default) or in total')
    .argument('<credits>', 'e.g. 50 or 12.5')
    .option('--project <project>', "NAME, OWNER/NAME or id (default: the folder's project, else the default project)")
    .addOption(new Option('--per <period>', 'the budget renews each day or month, or never (total)').choices(['day', 'month', 'total']).default('month'))
    .action(action(async (client, args, opts) => {
      const amount = creditsOf(parseCredits(args[0] ?? ''))
      const project = await projectOf(opts)
      const result = await client.call('projectBudgetSet', { ...(project != null ? { project } : {}), credits: amount, per: opts.per })
      if (opts.json === true) return printJson(result)
      printLines([result.budget != null ? budgetLine(result.budget) : `project ${result.project}: no budget`])
    }))
  budget.command('rm').description("remove the project's budget")
    .option('--project <project>', "NAME, OWNER/NAME or id (default: the folder's project, else the default project)")
    .action(action(async (client, _args, opts) => {
      const project = await projectOf(opts)
      const result = await client.call('projectBudgetSet', { ...(project != null ? { project } : {}), credits: null, per: 'month' })
      if (opts.json === true) return printJson(result)
      printLines([`project ${result.project}: no budget`])
    }))
  budget.command('show').description("the project's budget and the node's, as they stand")
    .option('--project <project>', "NAME, OWNER/NAME or id (default: the folder's project, else the default project)")
    .action(action(async (client, _args, opts) => {
      const project = await projectOf(opts)
      const result = await client.call('projectBudgetShow', project != null ? { project } : {})
      if (opts.json === true) return printJson(result)
      printLines(result.budgets.length === 0 ? [result.project === '' ? 'no budget: this node has no project yet, nor a node budget (config billing.budget)' : `project ${result.project}: no budget`] : result.budgets.map(budgetLine))
    }))
  return budget
}
