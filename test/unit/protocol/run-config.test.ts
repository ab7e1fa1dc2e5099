import { describe, expect, it } from 'vitest'
import { parseRunConfig, taskSettings } from '../../../protocol/jobs/run-config.js'

const errorOf = (text: string, file = 'floe.yml'): string => {
  try {
    parseRunConfig(text, file)
  } catch (err: any) {
    expect(err.name).toBe('RunConfigError')
    expect(err.message).not.toContain('\n')
    return err.message
  }
  throw new Error('parsed without an error')
}

describe('run config files', () => {
  it('reads defaults, tasks, ignore and upload warnings from a floe.yml', () => {
    const config = parseRunConfig([
      'env: pytorch-1.13-cpu',
      'cpu: 2',
      'memory: 4g',
      'gpu-model: a100',
      'data:',
      '  - mnist:3:/data',
      'command: python train.py',
      'ignore: ["*.ckpt", runs/]',
      'warn_upload_size: 10m',
      'warn-upload-files: 500',
      'timeout: 2h',
      'max_price: 0.5',
      'max-cost: 3',
      'network: true',
      'retries: 2',
      'tasks:',
      '  train:',
      '    description: the long one',
      '    command: [python, train.py, --epochs, "10"]',
      '    data: ["default/2/output:/model", "mnist:4:/data"]',
      '  eval: {command: python eval.py, cpu: 1}',
      '  empty:'
    ].join('\n'), 'floe.yml')
    expect(config.defaults).toEqual({
      env: 'pytorch-1.13-cpu', cpu: 2, memory: '4g', gpuModel: 'a100', data: [{ ref: 'mnist:3', mount: '/data' }],
      command: ['python train.py'], timeout: '2h', maxPrice: 0.5, maxCost: 3, network: true, retries: 2
    })
    expect(config.ignore).toEqual(['*.ckpt', 'runs/'])
    expect(config.warnUpload).toEqual({ bytes: 10 * 1024 * 1024, files: 500 })
    expect(Object.keys(config.tasks)).toEqual(['train', 'eval', 'empty'])
    // a task's settings over the defaults; its mount at /data replaces the default's, others are added
    const train = taskSettings(config, 'train')
    expect(train.command).toEqual(['python', 'train.py', '--epochs', '10'])
    expect(train.description).toBe('the long one')
    expect(train.env).toBe('pytorch-1.13-cpu')
    expect(train.data).toEqual([{ ref: 'default/2/output', mount: '/model' }, { ref: 'mnist:4', mount: '/data' }])
    expect(taskSettings(config, 'eval')).toMatchObject({ cpu: 1, memory: '4g', command: ['python eval.py'], data: [{ ref: 'mnist:3', mount: '/data' }] })
    expect(taskSettings(config, undefined)).toBe(config.defaults)
    expect(() => taskSettings(config, 'trian')).toThrow("floe.yml has no task 'trian'; its tasks are train, eval, empty")
    expect(() => taskSettings(parseRunConfig('env: busybox', 'floe.yml'), 'x')).toThrow(/defines no tasks/)
  })

  it("reads FloydHub's floyd.yml: machine, input [{source, destination}], env names as given, task:", () => {
    const config = parseRunConfig([
      'env: tensorflow-1.3',
      'machine: gpu',
      'input:',
      '  - source: foo/datasets/mnist/1',
      '    destination: mnist',
      '  - {source: mnist:2, destination: /abs}',
      'command: python train.py',
      'task:',
      '  big:',
      '    machine: gpu2',
      '  cheap:',
      '    machine: cpu',
      '    cpu: 1'
    ].join('\n'), 'floyd.yml')
    expect(config.defaults).toEqual({
      env: 'tensorflow-1.3', cpu: 4, memory: '16g', gpu: 1,
      data: [{ ref: 'foo/datasets/mnist/1', mount: '/floyd/input/mnist' }, { ref: 'mnist:2', mount: '/abs' }],
      command: ['python train.py']
    })
    expect(taskSettings(config, 'big')).toMatchObject({ cpu: 8, memory: '32g', gpu: 1, env: 'tensorflow-1.3' })
    // a key beside machine: wins over the machine's
    expect(taskSettings(config, 'cheap')).toMatchObject({ cpu: 1, memory: '8g', gpu: 0 })
  })

  it('an empty file is a config with nothing set', () => {
    expect(parseRunConfig('', 'floe.yml')).toMatchObject({ defaults: {}, tasks: {}, ignore: [] })
    expect(parseRunConfig('# only a comment\n', 'floe.yml').defaults).toEqual({})
  })

  it('each mistake is one line naming the file, the line, and what to write', () => {
    expect(errorOf('env: busybox\ncommand: x\n\ncpus: 2')).toBe("floe.yml:4: unknown key 'cpus'; did you mean 'cpu'?")
    expect(errorOf('comand: x')).toBe("floe.yml:1: unknown key 'comand'; did you mean 'command'?")
    expect(errorOf('zzzzzz: 1')).toMatch(/^floe\.yml:1: unknown key 'zzzzzz'; the keys are description, env, cpu/)
    expect(errorOf('env: a\ncpu: two')).toBe('floe.yml:2: cpu: "two" is not a whole number from 1 to 4096; e.g. cpu: 4')
    expect(errorOf('cpu: 0')).toMatch(/^floe\.yml:1: cpu: 0 is not a whole number from 1/)
    expect(errorOf('gpu: 1.5')).toMatch(/^floe\.yml:1: gpu: 1.5 is not a whole number/)
    expect(errorOf('memory: lots')).toBe('floe.yml:1: memory: "lots" is not a size; write a number and a unit, e.g. memory: 8g or memory: 512m')
    expect(errorOf('timeout: soon')).toBe('floe.yml:1: timeout: "soon" is not a duration; e.g. timeout: 2h, 90m or 3600 (seconds)')
    expect(errorOf('network: yes please')).toBe('floe.yml:1: network: "yes please" is not true or false; write network: true or network: false')
    expect(errorOf('data:\n  - mnist:data')).toBe('floe.yml:2: data "mnist:data": the mount path must be absolute; write "mnist:/data"')
    expect(errorOf('data:\n  - mnist')).toMatch(/^floe\.yml:2: data "mnist": expected REF:MOUNT with an absolute mount path/)
    expect(errorOf('data: mnist:/data')).toMatch(/^floe\.yml:1: data must be a list, one "- mnist:3:\/data" line per item/)
    expect(errorOf('command:')).toBe('floe.yml:1: command has no value; give one or remove the line')
    expect(errorOf('command: []')).toMatch(/^floe\.yml:1: command is an empty list/)
    expect(errorOf('machine: gpu9')).toBe('floe.yml:1: machine: "gpu9" is not a FloydHub machine floe knows; write one of cpu, cpu2, gpu, gpu2, or cpu/memory/gpu')
    expect(errorOf('input:\n  - {source: a, dest: /x}')).toBe("floe.yml:2: input: unknown key 'dest'; an input has only source and destination")
    expect(errorOf('input:\n  - {source: a}')).toMatch(/^floe\.yml:2: input needs both source and destination/)
    expect(errorOf('tasks:\n  train:\n    ignore: [x]')).toBe("floe.yml:3: 'ignore' applies to the whole code folder, not one task; move it to the top level")
    expect(errorOf('tasks:\n  train:\n    cpus: 3')).toBe("floe.yml:3: unknown key 'cpus'; did you mean 'cpu'?")
    expect(errorOf('tasks:\n  train: python x.py')).toMatch(/^floe\.yml:2: task 'train' must be a mapping of settings/)
    expect(errorOf('tasks:\n  "bad name": {}')).toMatch(/^floe\.yml:2: task name "bad name": use letters/)
    expect(errorOf('tasks: [a]')).toMatch(/^floe\.yml:1: tasks must be a mapping/)
    expect(errorOf('- env: x')).toMatch(/^floe\.yml:1: a run config is a mapping of keys/)
    expect(errorOf('max_cost: 0')).toMatch(/^floe\.yml:1: max_cost: 0 is not a number/)
    expect(errorOf('retries: 11')).toMatch(/^floe\.yml:1: retries: 11 is not a whole number from 0 to 10/)
  })

  it('invalid YAML gives its line', () => {
    expect(errorOf('env: busybox\ncpu: 2\n  memory: 4g\n')).toMatch(/^floe\.yml:2: not valid YAML: .*; check the indentation and quoting on this line$/)
    expect(errorOf('env: "open', 'floyd.yml')).toMatch(/^floyd\.yml:1: not valid YAML/)
    expect(errorOf('cpu: 1\ncpu: 2')).toMatch(/^floe\.yml:2: not valid YAML: .*[Mm]ap keys must be unique/)
  })
})
