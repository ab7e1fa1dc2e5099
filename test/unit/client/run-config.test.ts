import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { mergeRunSettings, settingsFor } from '../../../client/commands/run-config.js'
import { addJobOptions } from '../../../client/commands/job-options.js'
import { parseRunConfig } from '../../../protocol/jobs/run-config.js'
import { snapshotRules, walkTree } from '../../../daemon/content/index.js'
import { snapshotLine, snapshotWarning } from '../../../protocol/jobs/code-snapshot.js'
import { tempHome } from '../../helpers/floe.js'

/** `floe run ARGV` parsed as the CLI parses it, merged over `yml`'s settings (task `task`). */
function merged (yml: string, argv: string[], task?: string): ReturnType<typeof mergeRunSettings> {
  const run = addJobOptions(new Command('run').argument('[command...]').exitOverride(), 'run')
  run.parse(argv, { from: 'user' })
  const { settings, where } = settingsFor(parseRunConfig(yml, 'floe.yml'), task, '/code')
  return mergeRunSettings(settings, where, run.opts(), run.args, option => run.getOptionValueSource(option) === 'cli')
}

const YML = 'env: tf\ncpu: 4\nmemory: 8g\ntimeout: 3h\ndata: ["mnist:1:/data", "extra:/extra"]\ncommand: python train.py\ntasks:\n  small: {cpu: 2, message: small one}\n'

describe('floe run over a run config', () => {
  it('the config fills what no flag was typed for; commander defaults fill only what neither set', () => {
    const { opts, args, from } = merged(YML, [])
    expect(opts).toMatchObject({ env: 'tf', cpu: '4', memory: '8g', timeout: '3h', gpu: '0', retries: '0', data: ['mnist:1:/data', 'extra:/extra'] })
    expect(args).toEqual(['python train.py'])
    expect(from).toMatchObject({ env: 'floe.yml', cpu: 'floe.yml', gpu: 'default', command: 'floe.yml', data: 'floe.yml' })
  })

  it('a task is over the top level, and typed flags over both, even when typed as the default value', () => {
    const { opts, from, args } = merged(YML, ['--cpu', '1', '--memory=2g', '-m', 'typed', '--data', 'other:/data', '--', 'sh', 'x.sh'], 'small')
    expect(opts).toMatchObject({ cpu: '1', memory: '2g', message: 'typed', env: 'tf', timeout: '3h' })
    expect(from).toMatchObject({ cpu: 'flag', memory: 'flag', message: 'flag', env: 'floe.yml task small', data: 'floe.yml task small + flag', command: 'flag' })
    // --data at the config's mount replaces it; the config's other mounts stay
    expect(opts.data).toEqual(['extra:/extra', 'other:/data'])
    expect(args).toEqual(['sh', 'x.sh'])
    expect(merged(YML, [], 'small').opts).toMatchObject({ cpu: '2', message: 'small one', memory: '8g' })
  })

  it('without a config, the flags and their defaults as before', () => {
    const run = addJobOptions(new Command('run').argument('[command...]'), 'run')
    run.parse(['--gpu', '1', 'echo'], { from: 'user' })
    const { settings, where } = settingsFor(null, undefined, '/code')
    const result = mergeRunSettings(settings, where, run.opts(), run.args, o => run.getOptionValueSource(o) === 'cli')
    expect(result.opts).toMatchObject({ env: 'busybox', cpu: '1', gpu: '1', memory: '1g' })
    expect(() => settingsFor(null, 'train', '/code')).toThrow('--task train: /code has no floe.yml or floyd.yml')
  })
})

describe('what a code snapshot leaves out', () => {
  it('counts ignored files and bytes by the rule file that ignored them, inside ignored folders too', async () => {
    const dir = await tempHome('floe-snap-')
    try {
      await mkdir(join(dir, 'node_modules', 'x'), { recursive: true })
      await mkdir(join(dir, 'floe-output', 'default-1'), { recursive: true })
      const files: Record<string, string> = {
        'train.py': 'print(1)\n',
        'node_modules/x/a.js': 'aaaa',
        'floe-output/default-1/model': 'mmmmmm',
        'big.ckpt': 'c'.repeat(100),
        'secret.txt': 's',
        'notes.log': 'll',
        '.gitignore': '*.log\n',
        '.floydignore': 'secret.txt\n',
        '.floeignore': '!keep.log\n',
        'keep.log': 'k'
      }
      for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
      const rules = await snapshotRules(dir, { name: 'floe.yml', patterns: ['*.ckpt'] })
      const tree = await walkTree(dir, { ignore: rules.ignore, explainIgnored: rules.explain })
      const sent = tree.entries.filter(e => e.kind === 'file').map(e => e.path)
      expect(sent).toEqual(['.floeignore', '.floydignore', '.gitignore', 'keep.log', 'train.py'])
      expect(tree.ignored).toEqual({
        files: 5,
        bytes: 4 + 6 + 100 + 1 + 2,
        by: { defaults: { files: 2, bytes: 10 }, 'floe.yml': { files: 1, bytes: 100 }, '.floydignore': { files: 1, bytes: 1 }, '.gitignore': { files: 1, bytes: 2 } },
        capped: false
      })
      const snapshot = { files: 5, bytes: 3 * 1024 * 1024, ignoredFiles: 5, ignoredBytes: 113, ignoredBy: ['floe.yml', 'defaults'], ignoredCapped: false, config: 'floe.yml', warnUpload: { bytes: 1024 * 1024, files: 10 } }
      expect(snapshotLine(snapshot)).toBe('5 files, 3 MiB (ignored 5 files, 113 B: floe.yml, defaults)')
      expect(snapshotWarning(snapshot)).toMatch(/^the code snapshot is 3 MiB \(over 1 MiB\): list data/)
      expect(snapshotWarning({ ...snapshot, bytes: 10 })).toBeNull()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
