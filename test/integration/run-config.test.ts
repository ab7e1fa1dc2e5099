import { spawn } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeLeftContainers } from '../helpers/containers.js'
import { FLOE_BIN, floeJson, resources, type CliResult, type RunningDaemon } from '../helpers/floe.js'

const r = resources()
let d: RunningDaemon
let code: string

/** `floe ARGS…` run in `cwd` (the code folder, as a user types it there). */
async function floeIn (cwd: string, args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [FLOE_BIN, args[0] as string, '--home', d.home, ...args.slice(1)], { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => { stdout += chunk })
  child.stderr.on('data', chunk => { stderr += chunk })
  const exit = await new Promise<number | null>((resolve, reject) => { child.on('error', reject); child.on('close', resolve) })
  return { code: exit, stdout, stderr }
}

const FLOE_YML = [
  '# the run config of this folder',
  'env: busybox',
  'command: echo default task',
  'ignore:',
  '  - "*.ckpt"',
  'warn_upload_files: 4',
  'tasks:',
  '  train:',
  '    description: lists its code and reads its data',
  '    command: sh train.sh',
  '    data: ["mnist:1:/data"]',
  '    message: from the task'
].join('\n') + '\n'

const FILES: Record<string, string> = {
  'floe.yml': FLOE_YML,
  'train.sh': 'find /code | sort > /output/code.txt\ncat /data/digits.txt\n',
  '.floydignore': 'secret.txt\n',
  'secret.txt': 'not for providers\n',
  'model.ckpt': 'c'.repeat(4000),
  'a.txt': 'a\n'
}
/** what the snapshot holds: every file above but secret.txt and model.ckpt */
const SENT = ['.floydignore', 'a.txt', 'floe.yml', 'train.sh']

beforeAll(async () => {
  d = await r.start('--provider')
  code = await r.codeFolder(FILES)
  const mnist = await r.codeFolder({ 'digits.txt': '0123456789\n' })
  await floeJson(['data', 'upload', mnist, '--name', 'mnist', '--home', d.home])
})

afterAll(async () => {
  await r.cleanup()
  expect(await removeLeftContainers(r.started), 'containers left behind').toEqual([])
})

describe('run config files (floe.yml / floyd.yml)', () => {
  it('floe tasks lists the tasks; --task runs one with its data, reporting what the snapshot sends and leaves out', async () => {
    const [tasks, table] = await Promise.all([floeJson(['tasks', '--path', code, '--home', d.home]), floeIn(code, ['tasks'])])
    expect(table.stdout).toMatch(/^floe\.yml in \S+\ndefault command: echo default task\n\nTASK\s+COMMAND\s+ENV\s+SHAPE\s+DESCRIPTION\s*\n\s*train\s+sh train\.sh\s+busybox\s+-\s+lists its code and reads its data\n$/)
    expect(tasks.config.file).toBe('floe.yml')
    expect(Object.keys(tasks.config.tasks)).toEqual(['train'])

    const run = await floeIn(code, ['run', '--task', 'train', '--follow', '--json'])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const job = JSON.parse(run.stdout)
    expect(job).toMatchObject({ state: 'success', message: 'from the task', inputs: [{ ref: 'mnist:1', mount: '/data' }] })
    expect(job.spec.command).toEqual(['sh', '-c', 'sh train.sh'])
    const sentBytes = SENT.reduce((sum, name) => sum + Buffer.byteLength(FILES[name] as string), 0)
    expect(job.snapshot).toMatchObject({ files: SENT.length, bytes: sentBytes, ignoredFiles: 2, ignoredBytes: 4000 + FILES['secret.txt']!.length, config: 'floe.yml' })
    expect(job.snapshot.ignoredBy).toEqual(['floe.yml', '.floydignore'])
    const logs = await floeJson(['logs', job.ref, '--home', d.home])
    expect(logs.lines.filter((l: any) => l.stream === 'stdout').map((l: any) => l.line)).toEqual(['0123456789'])

    // the job's /code: the config is code and is sent; what .floydignore and ignore: name is not
    await floeIn(code, ['output', job.ref, '--json'])
    const listed = (await readFile(join(code, 'floe-output', `default-${job.number}`, 'code.txt'), 'utf8')).trim().split('\n')
    expect(listed).toEqual(['/code', ...SENT.map(name => `/code/${name}`)])

  })

  it('flags typed override the task; with no command, the default command runs, and the submit line says what is sent', async () => {
    await rm(join(code, 'b.txt'), { force: true }) // a retry starts as the first try did
    const [dry, human] = await Promise.all([
      floeIn(code, ['run', '--task', 'train', '--cpu', '2', '-m', 'typed', '--dry-run', '--json']),
      floeIn(code, ['run', '--task', 'train', '--dry-run'])
    ])
    expect(dry.code).toBe(0)
    const settings = JSON.parse(dry.stdout).settings
    expect(settings).toMatchObject({
      cpu: { value: '2', from: 'flag' },
      env: { value: 'busybox', from: 'floe.yml task train' },
      message: { value: 'typed', from: 'flag' },
      data: { value: 'mnist:1:/data', from: 'floe.yml task train' },
      command: { value: 'sh train.sh', from: 'floe.yml task train' },
      memory: { value: '1g', from: 'default' }
    })
    expect(human.stdout).toMatch(/SETTING\s+VALUE\s+FROM/)
    expect(human.stdout).toMatch(/cpu\s+1\s+default/)

    const plain = await floeIn(code, ['run', '--follow'])
    expect(plain.code).toBe(0)
    expect(plain.stdout).toBe('default task\n')
    const sentBytes = SENT.reduce((sum, name) => sum + Buffer.byteLength(FILES[name] as string), 0)
    // the first test's floe output wrote into the code folder, under floe-output/: this snapshot leaves it out
    expect(plain.stderr).toContain(`floe: uploading code: 4 files, ${sentBytes} B (ignored 3 files, `)
    expect(plain.stderr).toMatch(/: floe\.yml, defaults, \.floydignore\)\n/)
    // warn_upload_files: 4 is not passed by 4 files; one more passes it
    expect(plain.stderr).not.toContain('warning')
    await writeFile(join(code, 'b.txt'), 'b\n')
    const warned = await floeIn(code, ['run', '--task', 'train', '-m', 'typed', '--follow', '--', 'cat', '/data/digits.txt'])
    expect(warned.code).toBe(0)
    expect(warned.stdout).toBe('0123456789\n')
    expect(warned.stderr).toMatch(/floe: warning: the code snapshot is 5 files \(over 4\): list data, checkpoints and outputs in \.floeignore/)
    // a command after -- replaces the config's; a flag replaces its setting; the rest stays
    const ref = /floe: (\S+) submitted/.exec(warned.stderr)?.[1] as string
    expect(await floeJson(['status', ref, '--home', d.home])).toMatchObject({ state: 'success', message: 'typed', spec: { command: ['cat', '/data/digits.txt'] } })
  })

  it('says what is wrong with a config, a task or a missing command, in one line', async () => {
    // (each parse error and --task without a config are unit-tested: test/unit/protocol/run-config.test.ts, test/unit/client/run-config.test.ts)
    const [broken, empty, noDefault, linked] = await Promise.all([
      r.codeFolder({ 'floe.yml': 'env: busybox\ncpus: 2\n', 'floyd.yml': 'env: ignored-when-floe.yml-exists\n' }),
      r.codeFolder({ 'a.txt': 'a' }),
      r.codeFolder({ 'floe.yml': 'tasks:\n  train: {command: "true"}\n' }),
      // a linked floe.yml is refused, not followed
      r.codeFolder({ 'real.yml': 'env: busybox\n' }, { 'floe.yml': 'real.yml' })
    ])
    // each CLI is its own process: run them side by side
    const [bad, unknown, none, missing, link] = await Promise.all([
      floeIn(broken, ['run', '--', 'true']),
      floeIn(code, ['run', '--task', 'trian']),
      floeIn(empty, ['run']),
      floeIn(noDefault, ['run']),
      floeIn(linked, ['tasks'])
    ])
    expect(bad.stderr).toBe("floe run: floe.yml:2: unknown key 'cpus'; did you mean 'cpu'?\n")
    expect(unknown.stderr).toBe("floe run: floe.yml has no task 'trian'; its tasks are train\n")
    expect(none.stderr).toBe(`floe run: no command given: put it after --, e.g. floe run -- python train.py, or write "command: python train.py" in ${empty}/floe.yml\n`)
    expect(missing.stderr).toBe('floe run: no command given and floe.yml sets no top-level command: add "command: python train.py" to it, put the command after --, or pick a task with --task (train)\n')
    expect(link.stderr).toBe('floe tasks: floe.yml:1: is a symbolic link; make it a plain file in the code folder\n')
    for (const result of [bad, unknown, none, missing, link]) expect(result.code).toBe(1)
  })
})
