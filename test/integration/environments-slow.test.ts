import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { floe, floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'

/**
 * The real PyTorch environment: built offline from Debian's packages (debootstrap, then
 * python3-torch, numpy, scikit-learn, Jupyter), minutes and 2 GiB, so only with
 * FLOE_SLOW_TESTS=1 (and root, debootstrap and Debian's mirror):
 *
 *   FLOE_SLOW_TESTS=1 ./scripts/test test/integration/environments-slow.test.ts
 */
const exec = promisify(execFile)
const r = resources()
const built: string[] = []

const TRAIN = `import json
import numpy, sklearn, torch
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
    f.write(f"torch {torch.__version__} numpy {numpy.__version__} sklearn {sklearn.__version__}\\n")
`

afterAll(async () => {
  await r.cleanup()
  for (const id of built) await exec('docker', ['rmi', '-f', id]).catch(() => {})
}, 120_000)

describe.skipIf(process.env.FLOE_SLOW_TESTS !== '1')('the PyTorch environment (FLOE_SLOW_TESTS=1)', () => {
  it('is built from its recipe, loaded from its blocks, and runs a real training step', async () => {
    const d = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
    const build = await floe(['env', 'build', '--recipe', 'pytorch-1.13-cpu', '--json', '--home', d.home], { timeoutMs: 40 * 60_000 })
    expect(build.code, build.stderr).toBe(0)
    const env = JSON.parse(build.stdout)
    built.push(env.imageId)
    expect(env).toMatchObject({ name: 'pytorch-1.13-cpu', origin: 'built', accelerator: 'cpu' })
    expect(env.bytes).toBeGreaterThan(500 * 1024 * 1024)
    const python = (await floeJson(['env', 'ls', '--home', d.home])).find((e: any) => e.name === 'python-3.11')
    built.push(python.imageId)

    // Docker forgets it: the job's provider loads it again from the blocks
    await exec('docker', ['rmi', '-f', env.imageId])
    const code = r.folder(await tempHome('floe-code-'))
    await writeFile(join(code, 'train.py'), TRAIN)
    const run = await floe(['run', '--home', d.home, '--path', code, '--env', 'pytorch-1.13-cpu', '--json', '--follow', '--', 'python3', 'train.py'], { timeoutMs: 10 * 60_000 })
    expect(run.code, run.stderr).toBe(0)
    const job = JSON.parse(run.stdout)
    expect(job).toMatchObject({ state: 'success', metrics: { loss: { step: 50 } } })
    expect(job.metrics.loss.value).toBeLessThan(0.01)
    expect(job.receipt.environment.loadMs).toBeGreaterThan(0)
    const out = join(r.folder(await tempHome('floe-out-')), 'out')
    await floeJson(['output', job.ref, out, '--home', d.home])
    expect(await readFile(join(out, 'versions.txt'), 'utf8')).toMatch(/^torch 1\.13\.\S+ numpy 1\.24\.\S+ sklearn 1\.2\.\S+\n$/)
  }, 45 * 60_000)
})
