import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { floe, type RunningDaemon } from './floe.js'

const exec = promisify(execFile)

/**
 * The image of the Jupyter tests and bench: Debian 12's Jupyter Notebook on floe's python-3.11
 * recipe. Built once per machine (debootstrap + apt: minutes, root, Debian's mirror), then kept
 * under this tag, as floe/busybox is. Its tag changes with its definition (2: no nc in it:
 * forwarding needs nothing in the image).
 */
export const JUPYTER_IMAGE = 'floe-test/jupyter:2'

export async function imageExists (image: string): Promise<boolean> {
  return await exec('docker', ['image', 'inspect', '--format', '{{.Id}}', image]).then(() => true, () => false)
}

/** Gives daemon `d` the environment `name` with Jupyter: published from JUPYTER_IMAGE, built first when this machine has none. */
export async function jupyterEnvironment (d: Pick<RunningDaemon, 'home'>, name = 'jupyter'): Promise<{ cid: string, imageId: string, bytes: number }> {
  if (!await imageExists(JUPYTER_IMAGE)) {
    const base = await floe(['env', 'build', '--recipe', 'python-3.11', '--json', '--home', d.home], { timeoutMs: 20 * 60_000 })
    if (base.code !== 0) throw new Error(`could not build python-3.11 for the Jupyter image: ${base.stderr}`)
    const built = await floe(['env', 'build', name, '--from', 'python-3.11', '--apt', 'jupyter-notebook', '--json', '--home', d.home], { timeoutMs: 20 * 60_000 })
    if (built.code !== 0) throw new Error(`could not build the Jupyter image: ${built.stderr}`)
    const record = JSON.parse(built.stdout)
    await exec('docker', ['tag', record.imageId, JUPYTER_IMAGE])
    return record
  }
  const published = await floe(['env', 'publish', JUPYTER_IMAGE, '--name', name, '--json', '--home', d.home], { timeoutMs: 10 * 60_000 })
  if (published.code !== 0) throw new Error(`could not publish ${JUPYTER_IMAGE}: ${published.stderr}`)
  return JSON.parse(published.stdout)
}
