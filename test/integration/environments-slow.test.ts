import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { floe, floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'

/**
 * The real PyTorch environment: built from Debian's packages (debootstrap, then python3-torch,
 * numpy, pandas, scikit-learn, Jupyter), minutes and 2 GiB the first time (root, debootstrap
 * and Debian's mirror). The engine keeps each recipe's image tagged by a hash of its
 * definition (floe-recipe/NAME:HASH), so on a machine that built it once the test publishes
 * the cached images and runs the job: the images are kept, not removed, at the end.
 */
const exec = promisify(execFile)
const r = resources()

const TRAIN = `import json
import numpy, pandas, sklearn, torch
torch.manual_seed(0)
x = torch.randn(256, 3)
y = x @ torch.tensor([[1.5], [-2.0], [0.5]]) + 0.1
model = torch.nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(1, 51):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    if step % 10 == 0:
        print(json.dumps({"metric": "loss", "value": round(loss.item(), 6), "step": step}))
torch.save(model.state_dict(), "/output/model.pt")
with open("/output/versions.txt", "w") as f:
    f.write(f"torch {torch.__version__} numpy {numpy.__version__} sklearn {sklearn.__version__} pandas {pandas.__version__}\\n")
`

afterAll(async () => {
  await r.cleanup()
}, 120_000)

describe('the PyTorch environment', () => {
  it('is built from its recipe (or taken from the engine\'s recipe cache), published, and runs a real training step', async () => {
    const d = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
    const build = await floe(['env', 'build', '--recipe', 'pytorch-1.13-cpu', '--json', '--home', d.home], { timeoutMs: 40 * 60_000 })
    expect(build.code, build.stderr).toBe(0)
    const env = JSON.parse(build.stdout)
    expect(env).toMatchObject({ name: 'pytorch-1.13-cpu', origin: 'built', accelerator: 'cpu' })
    expect(env.bytes).toBeGreaterThan(500 * 1024 * 1024)
    // the recipe's image is in the engine's cache now: the next build takes it from there
    const { stdout: tags } = await exec('docker', ['image', 'inspect', '--format', '{{json .RepoTags}}', env.imageId])
    expect(JSON.parse(tags)).toContainEqual(expect.stringMatching(/^floe-recipe\/pytorch-1\.13-cpu:[0-9a-f]{12}$/))
    // pip works (python-3.11's, PEP 668 lifted: derived environments pip install into it)
    const { stdout: pip } = await exec('docker', ['run', '--rm', '--network', 'none', env.imageId, 'python3', '-m', 'pip', '--version'])
    expect(pip).toMatch(/^pip \d+/)

    const code = r.folder(await tempHome('floe-code-'))
    await writeFile(join(code, 'train.py'), TRAIN)
    const run = await floe(['run', '--home', d.home, '--path', code, '--env', 'pytorch-1.13-cpu', '--json', '--follow', '--', 'python3', 'train.py'], { timeoutMs: 10 * 60_000 })
    expect(run.code, run.stderr).toBe(0)
    const job = JSON.parse(run.stdout)
    expect(job).toMatchObject({ state: 'success', metrics: { loss: { step: 50 } } })
    expect(job.metrics.loss.value).toBeLessThan(0.01)
    const out = join(r.folder(await tempHome('floe-out-')), 'out')
    await floeJson(['output', job.ref, out, '--home', d.home])
    expect(await readFile(join(out, 'versions.txt'), 'utf8')).toMatch(/^torch 1\.13\.\S+ numpy 1\.24\.\S+ sklearn 1\.2\.\S+ pandas 1\.5\.\S+\n$/)
  }, 45 * 60_000)
})
