import { spawn } from 'node:child_process'
import { access, mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { pack } from 'tar-stream'
import { createHash } from 'node:crypto'
import type Docker from 'dockerode'
import type { ImageInspectInfo } from 'dockerode'
import { ACCELERATOR_LABEL, DESCRIPTION_LABEL, ENVIRONMENT_LABEL, RECIPE_REPOSITORY, type RecipeName } from '../../protocol/environments/environment.js'
import { buildEnvironment, type BuildComponents } from './build.js'
import { buildImage, importRootfs, inspectImage, tagImage } from './docker-images.js'
import { InvalidEnvironmentError } from './errors.js'
import { publishImage, type PublishOptions } from './publish.js'
import type { EnvironmentRecord } from './records.js'

export interface RecipeComponents extends BuildComponents {
  /** where recipes unpack root file systems (the daemon's home: the disk the blocks go to) */
  workRoot: string
  /** an environment this node holds, by name (to build on it, or to know a recipe was built) */
  holds: (name: string) => Promise<boolean>
}

/** Debian's release and mirror for the Python recipes; FLOE_DEBIAN_MIRROR overrides the mirror. */
export const DEBIAN_SUITE = 'bookworm'
export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian'
/** What debootstrap installs for python-3.11: Python 3.11 with pip (and venv) from Debian. */
export const PYTHON_PACKAGES = ['python3', 'python3-pip', 'python3-venv', 'ca-certificates'] as const
/**
 * The packages of the PyTorch recipe, on top of python-3.11 (bookworm: torch 1.13.1, numpy
 * 1.24, pandas 1.5, scikit-learn 1.2). Debian 12 carries Jupyter Notebook 6, not JupyterLab.
 */
export const PYTORCH_PACKAGES = ['python3-numpy', 'python3-pandas', 'python3-sklearn', 'python3-torch', 'jupyter-notebook'] as const

/**
 * python-3.11's last step, on the imported root file system. pip may install into the system
 * Python (Debian 12 refuses that by default, PEP 668): derived environments run
 * `pip install -r requirements.txt` (requirements.ts).
 */
const PYTHON_DOCKERFILE = (imported: string): string => `FROM ${imported}
ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN mkdir -p /code /output /home/floe && chmod 1777 /tmp && rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED
WORKDIR /code
CMD ["/bin/sh"]
`
const PYTHON_LABELS = { [ENVIRONMENT_LABEL]: 'python-3.11', [DESCRIPTION_LABEL]: `Debian 12 (${DEBIAN_SUITE}) minbase with Python 3.11 and pip`, [ACCELERATOR_LABEL]: 'cpu' }
const PYTORCH_DESCRIPTION = 'Debian 12 with Python 3.11, PyTorch 1.13 (CPU), NumPy, pandas, scikit-learn and Jupyter Notebook from Debian\'s packages'

/** What each recipe holds, as floe env ls says it of a recipe not built here. */
export const RECIPE_DESCRIPTIONS: Record<RecipeName, string> = {
  busybox: 'BusyBox (static) on an empty image',
  'python-3.11': PYTHON_LABELS[DESCRIPTION_LABEL],
  'pytorch-1.13-cpu': PYTORCH_DESCRIPTION
}


/**
 * A hash of what a recipe builds from: a change to its definition (packages, Dockerfile,
 * labels) misses the cache; the same definition on the same engine reuses the image.
 */
export function recipeKey (recipe: RecipeName): string {
  const python = { suite: DEBIAN_SUITE, packages: PYTHON_PACKAGES, dockerfile: PYTHON_DOCKERFILE('BASE'), labels: PYTHON_LABELS, version: 2 }
  const definition = recipe === 'python-3.11'
    ? python
    : recipe === 'pytorch-1.13-cpu'
      ? { python, packages: PYTORCH_PACKAGES, description: PYTORCH_DESCRIPTION }
      : { busybox: BUSYBOX_DOCKERFILE }
  return createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 12)
}

export function recipeTag (recipe: RecipeName): { repo: string, tag: string, ref: string } {
  const repo = `${RECIPE_REPOSITORY}/${recipe}`
  const tag = recipeKey(recipe)
  return { repo, tag, ref: `${repo}:${tag}` }
}

/** The image the engine's recipe cache holds for this recipe's current definition, or null. */
export async function cachedRecipeImage (docker: Docker, recipe: RecipeName): Promise<ImageInspectInfo | null> {
  return await inspectImage(docker, recipeTag(recipe).ref)
}

/** floe's busybox image, as docker/busybox/Dockerfile builds it (scripts/lib.sh). */
const BUSYBOX_DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "mkdir", "-p", "/tmp", "/code", "/output", "/home/floe"]
RUN ["/bin/busybox", "chmod", "1777", "/tmp"]
WORKDIR /code
CMD ["/bin/sh"]
`
const BUSYBOX_BINARY = '/bin/busybox'

/** Whether an ELF executable needs a dynamic loader (a PT_INTERP program header): such a busybox cannot run FROM scratch. */
export async function isDynamicElf (path: string): Promise<boolean> {
  const file = await open(path, 'r')
  try {
    const head = Buffer.alloc(64)
    await file.read(head, 0, 64, 0)
    if (head.readUInt32BE(0) !== 0x7f454c46) throw new InvalidEnvironmentError(`${path} is not an ELF executable`)
    const is64 = head[4] === 2
    const little = head[5] === 1
    const u16 = (b: Buffer, o: number): number => little ? b.readUInt16LE(o) : b.readUInt16BE(o)
    const u32 = (b: Buffer, o: number): number => little ? b.readUInt32LE(o) : b.readUInt32BE(o)
    const phoff = is64 ? Number(little ? head.readBigUInt64LE(32) : head.readBigUInt64BE(32)) : u32(head, 28)
    const phentsize = u16(head, is64 ? 54 : 42)
    const phnum = u16(head, is64 ? 56 : 44)
    const table = Buffer.alloc(phentsize * phnum)
    await file.read(table, 0, table.length, phoff)
    for (let i = 0; i < phnum; i++) if (u32(table, i * phentsize) === 3) return true
    return false
  } finally {
    await file.close()
  }
}

async function busyboxContext (): Promise<Readable> {
  try {
    await access(BUSYBOX_BINARY)
  } catch {
    throw new InvalidEnvironmentError(`${BUSYBOX_BINARY} is missing: install Debian's busybox-static (apt-get install busybox-static)`)
  }
  if (await isDynamicElf(BUSYBOX_BINARY)) throw new InvalidEnvironmentError(`${BUSYBOX_BINARY} is linked dynamically and cannot run in an empty image: install busybox-static (apt-get install busybox-static)`)
  const binary = await readFile(BUSYBOX_BINARY)
  const context = pack()
  context.entry({ name: 'Dockerfile', mode: 0o644, mtime: new Date(0) }, BUSYBOX_DOCKERFILE)
  context.entry({ name: 'busybox', mode: 0o755, mtime: new Date(0) }, binary)
  context.finalize()
  return context as unknown as Readable
}

/** Runs a command, each line of its output to `onLine`; rejects with its last lines when it fails. */
async function run (command: string, args: string[], options: { onLine?: (line: string) => void, signal?: AbortSignal, stdout?: (out: Readable) => Promise<unknown> }): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], signal: options.signal })
  const tail: string[] = []
  const lines = (stream: Readable): void => {
    createInterface({ input: stream }).on('line', line => {
      tail.push(line)
      if (tail.length > 20) tail.shift()
      options.onLine?.(line)
    })
  }
  if (options.stdout == null) lines(child.stdout)
  lines(child.stderr)
  const consumed = options.stdout?.(child.stdout)
  // awaited below, after the command ends; a failure before that must not go unhandled
  consumed?.catch(() => { child.kill() })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  await consumed
  if (code !== 0) throw new InvalidEnvironmentError(`${command} exited with ${code}: ${tail.slice(-5).join(' | ')}`)
}

async function commandExists (name: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (await access(join(dir, name)).then(() => true, () => false)) return true
  }
  return false
}

/**
 * python-3.11: a minimal Debian 12 (debootstrap minbase, python3 — 3.11 in bookworm) made
 * into an image with `docker import`, then given floe's folders and labels. Needs root and
 * debootstrap, and Debian's mirror; takes minutes.
 */
async function buildPython (components: RecipeComponents, options: PublishOptions): Promise<EnvironmentRecord> {
  const cached = await fromCache(components, 'python-3.11', options)
  if (cached != null) return cached
  if (process.getuid?.() !== 0) throw new InvalidEnvironmentError('the python-3.11 recipe runs debootstrap, which needs the daemon to run as root')
  if (!await commandExists('debootstrap')) throw new InvalidEnvironmentError('the python-3.11 recipe needs debootstrap: apt-get install debootstrap')
  const mirror = process.env.FLOE_DEBIAN_MIRROR ?? DEFAULT_DEBIAN_MIRROR
  await mkdir(components.workRoot, { recursive: true })
  const work = await mkdtemp(join(components.workRoot, 'recipe-'))
  const say = (message: string): void => options.onProgress?.({ phase: 'build', bytes: 0, totalBytes: null, message })
  try {
    const rootfs = join(work, 'rootfs')
    say(`debootstrap ${DEBIAN_SUITE} (minbase + ${PYTHON_PACKAGES.join(' ')}) from ${mirror}`)
    await run('debootstrap', ['--variant=minbase', `--include=${PYTHON_PACKAGES.join(',')}`, DEBIAN_SUITE, rootfs, mirror], { onLine: say, signal: options.signal })
    await run('chroot', [rootfs, 'apt-get', 'clean'], { signal: options.signal })
    await rm(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true })
    await mkdir(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true })
    say('docker import of the root file system')
    const docker = await components.docker()
    let imported = ''
    await run('tar', ['-C', rootfs, '--numeric-owner', '--exclude=./dev/*', '--exclude=./proc/*', '--exclude=./sys/*', '-cf', '-', '.'], {
      signal: options.signal,
      stdout: async out => { imported = await importRootfs(docker, out, { signal: options.signal }) }
    })
    const dockerfile = PYTHON_DOCKERFILE(imported)
    const context = pack()
    context.entry({ name: 'Dockerfile', mode: 0o644, mtime: new Date(0) }, dockerfile)
    context.finalize()
    const imageId = await buildImage(docker, context as unknown as Readable, {
      dockerfile: 'Dockerfile',
      labels: PYTHON_LABELS,
      network: 'none',
      signal: options.signal,
      onLine: say
    })
    await tagImage(docker, imageId, recipeTag('python-3.11').repo, recipeTag('python-3.11').tag)
    return await publishImage(components, { image: imageId, name: 'python-3.11', origin: 'built', source: 'recipe python-3.11' }, options)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/**
 * A recipe's image from the engine's cache (tagged by its definition's hash), published as
 * the recipe's environment; null when the engine has none (never built here, or the recipe
 * changed since).
 */
async function fromCache (components: RecipeComponents, recipe: RecipeName, options: PublishOptions): Promise<EnvironmentRecord | null> {
  const image = await cachedRecipeImage(await components.docker(), recipe)
  if (image == null) return null
  options.onProgress?.({ phase: 'build', bytes: 0, totalBytes: null, message: `cached: ${recipeTag(recipe).ref} (built ${image.Created}); publishing it` })
  return await publishImage(components, { image: image.Id, name: recipe, origin: 'built', source: `recipe ${recipe}` }, options)
}

/**
 * `floe env build --recipe NAME`: the built-in environments, built offline (no registry):
 * `busybox` from the machine's static busybox (seconds); `python-3.11` by debootstrap;
 * `pytorch-1.13-cpu` on python-3.11 (built first when not held) with Debian's numpy,
 * scikit-learn, PyTorch and Jupyter — both minutes and GBs.
 */
export async function buildRecipe (components: RecipeComponents, recipe: RecipeName, options: PublishOptions = {}): Promise<EnvironmentRecord> {
  if (recipe === 'busybox') {
    const imageId = await buildImage(await components.docker(), await busyboxContext(), {
      dockerfile: 'Dockerfile',
      labels: { [ENVIRONMENT_LABEL]: 'busybox', [DESCRIPTION_LABEL]: 'BusyBox (static) on an empty image', [ACCELERATOR_LABEL]: 'cpu' },
      network: 'none',
      signal: options.signal,
      onLine: line => options.onProgress?.({ phase: 'build', bytes: 0, totalBytes: null, message: line })
    })
    return await publishImage(components, { image: imageId, name: 'busybox', origin: 'built', source: 'recipe busybox' }, options)
  }
  if (recipe === 'python-3.11') return await buildPython(components, options)
  const cached = await fromCache(components, recipe, options)
  if (cached != null) return cached
  // the base: python-3.11 of the current recipe (an older python-3.11 held here would give a different image)
  await buildPython(components, options)
  const record = await buildEnvironment(components, {
    name: 'pytorch-1.13-cpu',
    from: 'python-3.11',
    apt: [...PYTORCH_PACKAGES],
    description: PYTORCH_DESCRIPTION,
    accelerator: 'cpu',
    source: 'recipe pytorch-1.13-cpu'
  }, options)
  const tag = recipeTag(recipe)
  await tagImage(await components.docker(), record.imageId, tag.repo, tag.tag)
  return record
}
