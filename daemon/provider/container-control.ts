import { setTimeout as sleep } from 'node:timers/promises'
import type { Container, ContainerInspectInfo } from 'dockerode'
import { dockerMessage, dockerStatus, ExecutorError } from './errors.js'

/** How often a container being stopped is looked at, to send SIGKILL no later than needed. */
const STOP_POLL_MS = 200

export function shortId (id: string): string {
  return id.slice(0, 12)
}

export async function inspectContainer (container: Container): Promise<ContainerInspectInfo> {
  try {
    return await container.inspect()
  } catch (err) {
    if (dockerStatus(err) === 404) throw new ExecutorError(`container ${shortId(container.id)} does not exist (was it removed?)`, { cause: err })
    throw new ExecutorError(`could not inspect container ${shortId(container.id)}: ${dockerMessage(err)}`, { cause: err })
  }
}

export async function startContainer (container: Container): Promise<void> {
  try {
    await container.start()
  } catch (err) {
    // Typically the command is not in the image ("executable file not found in $PATH").
    throw new ExecutorError(`could not start container ${shortId(container.id)}: ${dockerMessage(err)}`, { cause: err })
  }
}

/**
 * Stops a container as `docker stop` does, SIGTERM then SIGKILL after `graceMs`, but by
 * signals and polling rather than the engine's stop call: that call answers only when the
 * container is gone, and a dockerode client with a `timeout` shorter than the grace gives up
 * on it. Resolves false when the container was not running to begin with.
 */
export async function terminateContainer (container: Container, graceMs: number): Promise<boolean> {
  if (!await signalContainer(container, 'SIGTERM')) return false
  const until = Date.now() + graceMs
  while (Date.now() < until) {
    await sleep(STOP_POLL_MS)
    if (!(await inspectContainer(container)).State.Running) return true
  }
  await signalContainer(container, 'SIGKILL')
  return true
}

async function signalContainer (container: Container, signal: 'SIGTERM' | 'SIGKILL'): Promise<boolean> {
  try {
    await container.kill({ signal })
    return true
  } catch (err) {
    // 409: not running (it exited meanwhile); 404: removed. Either way nothing is left to signal.
    const status = dockerStatus(err)
    if (status === 409 || status === 404) return false
    throw new ExecutorError(`could not send ${signal} to container ${shortId(container.id)}: ${dockerMessage(err)}`, { cause: err })
  }
}
