import { Command } from 'commander'
import { z } from 'zod'
import { describe, expect, it } from 'vitest'
import { floeProgram } from '../../../bin/program.js'
import { createApiClient } from '../../../client/api-client.js'
import { numberOption, requirementsOf } from '../../../client/commands/job-options.js'
import { parseDataMount } from '../../../client/commands/jobs.js'
import { noMatch } from '../../../client/commands/market.js'
import { splitJobCommand, usageError } from '../../../client/usage-errors.js'
import { describeIssues, invalidRequestMessage } from '../../../protocol/api/invalid-input.js'
import { RunRequest } from '../../../protocol/api/routes.js'
import { displayCommand, peakMemory, runTime } from '../../../protocol/format.js'
import type { Offer } from '../../../protocol/market/offer.js'

/** No zod dump: none of its JSON keys, codes or array brackets. */
function expectOneLine (text: string): void {
  expect(text.trim().split('\n')).toHaveLength(1)
  expect(text).not.toMatch(/"code":|invalid_type|\[\s*\{/)
}

describe('schema refusals read as one line', () => {
  it('names the field and what it expected (API and client alike)', () => {
    const parsed = RunRequest.safeParse({ command: ['true'], requirements: { cpus: 1, memoryBytes: 1, gpus: Number.NaN } })
    expect(parsed.success).toBe(false)
    const message = invalidRequestMessage((parsed as { error: z.ZodError }).error)
    expect(message).toBe('invalid request: requirements.gpus: expected a number')
    expectOneLine(message)
    expect(describeIssues(z.object({ a: z.string() }).strict().safeParse({ a: 'x', b: 1 }).error?.issues ?? [])).toBe('request: unknown field b')
  })

  it('the API client refuses bad input before sending it, as the daemon would', async () => {
    let sent = false
    const client = createApiClient({ url: 'http://127.0.0.1:9', fetch: async () => { sent = true; throw new Error('not reached') } })
    const call = client.call('jobRun', { command: ['true'], requirements: { cpus: 1, memoryBytes: 1, gpus: Number.NaN } } as any)
    await expect(call).rejects.toMatchObject({ name: 'InvalidRequestError', message: 'invalid request: requirements.gpus: expected a number' })
    expect(sent).toBe(false)
  })
})

describe('job options', () => {
  it('a bare --gpu is one GPU, as FloydHub\'s flag; a bad number names the flag and an example', () => {
    expect(requirementsOf({ cpu: '1', memory: '1g', gpu: true }).gpus).toBe(1)
    expect(requirementsOf({ cpu: '1', memory: '1g', gpu: '2' }).gpus).toBe(2)
    expect(() => requirementsOf({ cpu: '1', memory: '1g', gpu: '2.5' })).toThrow(/^--gpu 2\.5: expected a whole number, e\.g\. --gpu 1$/)
    expect(() => requirementsOf({ cpu: '1', memory: '1g', gpu: 'python train.py' })).toThrow("--gpu python train.py: expected a whole number, e.g. --gpu 1; a bare --gpu is one GPU, with the job's command after --: --gpu -- python train.py")
    expect(() => requirementsOf({ cpu: 'x', memory: '1g', gpu: '0' })).toThrow('--cpu x: expected a number, e.g. --cpu 2')
    expect(() => requirementsOf({ cpu: '1', memory: '4x', gpu: '0' })).toThrow(/^--memory 4x: has an unknown unit "x"; use b, k, m, g or t/)
    expect(() => numberOption('--retries', '-1', '2', { integer: true })).toThrow('--retries -1: expected a whole number, e.g. --retries 2')
  })

  it('--data: a relative mount says it must be absolute, with the fix', () => {
    expect(() => parseDataMount('mnist:data')).toThrow('--data mnist:data: the mount path must be absolute, e.g. mnist:/data')
    expect(() => parseDataMount('mnist')).toThrow(/^--data mnist: expected REF:MOUNT with an absolute mount path, e\.g\. mnist:\/data/)
    expect(parseDataMount('mnist:3:/data')).toEqual({ ref: 'mnist:3', mount: '/data' })
  })
})

describe('usage errors', () => {
  const program = floeProgram()
  const run = program.commands.find(c => c.name() === 'run') as Command
  const argv = (line: string): string[] => ['node', 'floe', ...line.split(' ')]

  it('a job command given without -- is shown after --', () => {
    const line = 'run --env busybox python3 train.py --lr 0.1'
    expect(splitJobCommand(run, argv(line))).toEqual({ options: ['--env', 'busybox'], command: ['python3', 'train.py', '--lr', '0.1'] })
    const text = usageError(run, "error: unknown option '--lr'\n", argv(line))
    expect(text).toBe("floe run: unknown option '--lr'; put the job's command after --: floe run --env busybox -- python3 train.py --lr 0.1\n")
    expectOneLine(text)
  })

  it('a mistyped option of floe\'s own points to --help', () => {
    expect(usageError(run, "error: unknown option '--bogus'\n", argv('run --bogus -- true'))).toBe("floe run: unknown option '--bogus'; see floe run --help\n")
  })
})

describe('how jobs read', () => {
  it('short runs are not 0s; an unmeasured peak is not 0 B', () => {
    expect(runTime(0)).toBe('<1s')
    expect(runTime(2_460)).toBe('2.4s')
    expect(runTime(65_000)).toBe('1m5s')
    expect(peakMemory(0)).toMatch(/^not measured/)
    expect(peakMemory(1024 * 1024)).toBe('1 MiB')
  })

  it('commands are shell-quoted, and floe\'s own sh -c wrapper shows its script', () => {
    expect(displayCommand(['sh', '-c', 'sh train.sh'])).toBe('sh train.sh')
    expect(displayCommand(['python3', 'train.py', '--lr', '0.1'])).toBe('python3 train.py --lr 0.1')
    expect(displayCommand(['echo', 'a b', "it's"])).toBe("echo 'a b' 'it'\\''s'")
  })

  it('providers: no match among known offers says how many, what they have, and how to list them', () => {
    const offer = (gpus: number): Offer => ({ gpus: Array.from({ length: gpus }, () => ({ model: 'A100', memoryBytes: 1, free: true })), environments: ['busybox'] }) as unknown as Offer
    expect(noMatch([offer(0), offer(0), offer(0)], { gpus: 1 })).toBe('none of the 3 known offers has 1 free GPU (the most free GPUs: 0); floe providers lists them all')
    expect(noMatch([offer(1)], { gpus: 2 })).toBe('none of the 1 known offer has 2 free GPUs (the most free GPUs: 1; models: A100); floe providers lists them all')
  })
})
