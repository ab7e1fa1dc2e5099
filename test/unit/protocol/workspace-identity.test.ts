import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { expandDataRef, expandJobRef } from '../../../client/project-link.js'
import { parseJobRef } from '../../../daemon/jobs/refs.js'
import { parseWorkspaceRef, workspaceNameProblem, workspaceRef } from '../../../protocol/workspaces/identity.js'

describe('workspace names and refs', () => {
  it('a name starts with a letter: never a job number or a job id', () => {
    for (const good of ['dev', 'Dev-2', 'a', 'x.y_z', 'a'.repeat(63)]) expect(workspaceNameProblem(good), good).toBeNull()
    for (const bad of ['', '7', '7dev', '-dev', 'a b', 'a/b', 'a'.repeat(64), 'ab'.repeat(16), '.hidden', 'dév']) {
      expect(workspaceNameProblem(bad), bad).toMatch(/cannot name a workspace: a workspace name starts with a letter/)
    }
  })

  it('NAME and PROJECT/ws/NAME name a workspace; N, PROJECT/N and job ids stay jobs', () => {
    expect(parseWorkspaceRef('dev')).toEqual({ project: null, name: 'dev' })
    expect(parseWorkspaceRef('alice/nlp/ws/dev')).toEqual({ project: 'alice/nlp', name: 'dev' })
    expect(parseWorkspaceRef('ws/ws/ws')).toEqual({ project: 'ws', name: 'ws' })
    expect(workspaceRef('alice/nlp', 'dev')).toBe('alice/nlp/ws/dev')
    expect(parseJobRef('dev')).toEqual({ project: null, workspace: 'dev' })
    expect(parseJobRef('alice/nlp/ws/dev')).toEqual({ project: 'alice/nlp', workspace: 'dev' })
    expect(parseJobRef('7')).toEqual({ project: null, number: 7 })
    expect(parseJobRef('alice/nlp/7')).toEqual({ project: 'alice/nlp', number: 7 })
    expect(parseJobRef('ab'.repeat(16))).toEqual({ jobId: 'ab'.repeat(16) })
    expect(() => parseJobRef('alice/nlp/dev')).toThrow(/is not a job or a workspace: expected N, PROJECT\/N, OWNER\/PROJECT\/N, a job id, or a workspace's NAME or PROJECT\/ws\/NAME/)
    expect(() => parseJobRef('7dev')).toThrow(/is not a job or a workspace/)
  })

  it('in a linked folder a bare N or NAME is the project\'s; a data ref keeps a bare name (a dataset)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'floe-link-'))
    try {
      await writeFile(join(dir, '.floeproject'), JSON.stringify({ id: 'bafyproject', name: 'alice/nlp' }))
      expect(await expandJobRef('dev', dir)).toBe('bafyproject/ws/dev')
      expect(await expandJobRef('7', dir)).toBe('bafyproject/7')
      expect(await expandJobRef('other/ws/dev', dir)).toBe('other/ws/dev')
      expect(await expandJobRef('alice/nlp/7', dir)).toBe('alice/nlp/7')
      expect(await expandDataRef('mnist', dir)).toBe('mnist')
      expect(await expandDataRef('7/output', dir)).toBe('bafyproject/7/output')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
