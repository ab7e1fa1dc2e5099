import { describe, expect, it } from 'vitest'
import { failureHint, type FailureFacts } from '../../../../daemon/provider/failure-hints.js'

const facts = (over: Partial<FailureFacts>): FailureFacts => ({ command: ['python3', 'train.py'], environment: 'busybox', network: false, exitCode: 1, failure: null, lines: [], ...over })

describe('failure hints', () => {
  it('the network is off and the output says a lookup or connect failed', () => {
    for (const line of ["wget: bad address 'example.com'", 'wget: can\'t connect to remote host (1.2.3.4): Network is unreachable', "wget: can't connect to remote host (1.2.3.4): No route to host", 'socket.gaierror: [Errno -3] Temporary failure in name resolution', 'curl: (6) Could not resolve host: example.com']) {
      expect(failureHint(facts({ lines: ['starting', line] })), line).toMatch(/^the job has no network .*its output says ".+": .*--network/)
    }
    // busybox wget may die of a segfault after the lookup, saying nothing
    expect(failureHint(facts({ command: ['wget', 'http://example.com/x'], exitCode: 139 }))).toContain('crashed (exit code 139, Segmentation fault)')
    // with the network on, or nothing said of it, no hint
    expect(failureHint(facts({ network: true, lines: ["wget: bad address 'example.com'"] }))).toBeNull()
    expect(failureHint(facts({ lines: ['Traceback', 'ValueError: bad'] }))).toBeNull()
    expect(failureHint(facts({ exitCode: 139 }))).toBeNull()
  })

  it('the command is not in the image: the engine\'s words (runc, runsc) or a shell\'s exit 127', () => {
    const runc = 'failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "python3": executable file not found in $PATH: unknown'
    const runsc = 'OCI runtime start failed: starting container: starting root container: starting sandbox: error finding executable "python3" in PATH [/usr/local/sbin /usr/bin /bin]: no such file or directory: unknown'
    for (const failure of [runc, runsc]) {
      expect(failureHint(facts({ exitCode: null, failure }))).toMatch(/^command "python3" is not in environment busybox: .*--env NAME.*floe env ls.*python-3\.11/)
    }
    expect(failureHint(facts({ command: ['sh', '-c', 'pip install x'], exitCode: 127, lines: ['sh: pip: not found'] }))).toMatch(/^command "pip" is not in environment busybox \(exit code 127\)/)
    expect(failureHint(facts({ command: ['bash', '-c', 'x'], exitCode: 127, lines: ['bash: line 1: nvidia-smi: command not found'] }))).toContain('command "nvidia-smi"')
    // 127 from the program itself, having said something else: no guess
    expect(failureHint(facts({ exitCode: 127, lines: ['done with 127'] }))).toBeNull()
  })

  it('the image has no shell for a command run through sh -c', () => {
    const failure = 'exec: "sh": executable file not found in $PATH: unknown'
    expect(failureHint(facts({ command: ['sh', '-c', 'echo hi there'], exitCode: null, failure, environment: 'tiny' }))).toMatch(/^environment tiny has no shell \(sh\): .*separate words after --/)
  })
})
