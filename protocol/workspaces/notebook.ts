/**
 * Jupyter workspaces: a workspace's command keeps its container up and, when its environment
 * carries Jupyter (Notebook 6 as Debian 12 packages it, or JupyterLab), starts the notebook
 * server on 127.0.0.1:NOTEBOOK_PORT inside it, as the workspace's user, with a token of its own.
 * The server is a child of the container's main process, so it outlives any terminal; its log
 * is the workspace's log (`floe logs WS`).
 *
 * The command carries the mode and the token as arguments of a fixed script, so a restart
 * (which reruns the spec) starts the same notebook, and the client's daemon reads both back
 * from the spec (notebookOf) without a new spec field: providers that predate this run it as
 * any other command. The token is the notebook's own, never floe's API token or a session:
 * the provider (which runs the notebook) sees it, as it sees everything in the workspace.
 */
export const NOTEBOOK_PORT = 8888

/** `auto`: a notebook when the environment has Jupyter; `on`: the workspace fails without it; `off`: none. */
export const NOTEBOOK_MODES = ['auto', 'on', 'off'] as const
export type NotebookMode = typeof NOTEBOOK_MODES[number]

/** A workspace's command without a notebook: it only keeps the container up; SIGTERM ends it at once. */
export const KEEPALIVE = ['sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done']

/** The name `$0` of the script: what notebookOf recognises besides the script itself. */
const SCRIPT_NAME = 'floe-workspace'

/** Printed (to the workspace's log) when `on` finds no Jupyter; the workspace then fails with 127. */
export const NO_JUPYTER = 'floe: --jupyter: this environment has no jupyter-notebook or jupyter-lab on its PATH; build one that has: floe env build NAME --from python-3.11 --apt jupyter-notebook'

/** Which server, how: `$1` the mode, `$2` the token (passed in the environment, not on the server's command line). */
const SCRIPT = [
  'trap "exit 0" TERM INT',
  'mode=$1',
  `flags="--no-browser --ip=127.0.0.1 --port=${NOTEBOOK_PORT} --port-retries=0 --notebook-dir=$HOME"`,
  'if [ "$mode" != off ] && command -v jupyter-notebook >/dev/null 2>&1; then',
  '  echo "floe: starting Jupyter Notebook on port ' + String(NOTEBOOK_PORT) + ' (floe workspace open)"',
  '  JUPYTER_TOKEN=$2 jupyter-notebook $flags 2>&1 &',
  'elif [ "$mode" != off ] && command -v jupyter-lab >/dev/null 2>&1; then',
  '  echo "floe: starting JupyterLab on port ' + String(NOTEBOOK_PORT) + ' (floe workspace open)"',
  '  JUPYTER_TOKEN=$2 jupyter-lab $flags 2>&1 &',
  'elif [ "$mode" = on ]; then',
  `  echo '${NO_JUPYTER}' >&2; exit 127`,
  'fi',
  'while :; do sleep 3600 & wait $!; done'
].join('\n')

/** A notebook token: 32 random bytes, hex (Jupyter compares it as text). */
export const NOTEBOOK_TOKEN = /^[0-9a-f]{64}$/

/** The workspace's command for `mode` (`token`: from newNotebookToken, daemon side). */
export function workspaceCommand (mode: NotebookMode, token: string): string[] {
  if (mode === 'off') return KEEPALIVE
  if (!NOTEBOOK_TOKEN.test(token)) throw new RangeError('a notebook token is 64 hex digits')
  return ['sh', '-c', SCRIPT, SCRIPT_NAME, mode, token]
}

/** The notebook a workspace's command starts (its mode and token), or null: a workspace without one, or a job. */
export function notebookOf (command: readonly string[]): { mode: Exclude<NotebookMode, 'off'>, token: string } | null {
  if (command.length !== 6 || command[0] !== 'sh' || command[1] !== '-c' || command[2] !== SCRIPT || command[3] !== SCRIPT_NAME) return null
  const mode = command[4]
  const token = command[5] ?? ''
  if ((mode !== 'auto' && mode !== 'on') || !NOTEBOOK_TOKEN.test(token)) return null
  return { mode, token }
}
