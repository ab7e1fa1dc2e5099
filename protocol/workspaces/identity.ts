/**
 * A workspace's identity: its name, one reference for its whole life. Each start or restart
 * is a run (a job, numbered like any other); the workspace `NAME` (in its project,
 * `PROJECT/ws/NAME` from anywhere) always means its latest run. Names are unique in a
 * project among its workspaces. A name starts with a letter, so it is never a job number,
 * and is never 32 hex digits, so it is never a job id.
 */
export const WORKSPACE_NAME = /^[A-Za-z][A-Za-z0-9._-]{0,62}$/

export const WORKSPACE_NAME_RULE = 'a workspace name starts with a letter and has at most 63 letters, digits, ".", "_" or "-" (a number is a job, never a workspace)'

/** Why `name` cannot name a workspace, or null when it can. */
export function workspaceNameProblem (name: string): string | null {
  if (!WORKSPACE_NAME.test(name) || /^[0-9a-f]{32}$/.test(name)) return `"${name}" cannot name a workspace: ${WORKSPACE_NAME_RULE}`
  return null
}

/** The qualified ref of workspace `name` in `project` (`OWNER/PROJECT` or a project id). */
export function workspaceRef (project: string, name: string): string {
  return `${project}/ws/${name}`
}

/** `NAME` or `PROJECT/ws/NAME`: the workspace it names (project null: the default, or the folder's), or undefined when it is not a workspace ref. */
export function parseWorkspaceRef (ref: string): { project: string | null, name: string } | undefined {
  const match = /^(?:(.+)\/ws\/)?([^/]+)$/.exec(ref)
  if (match == null) return undefined
  const name = match[2] as string
  if (!WORKSPACE_NAME.test(name) || /^[0-9a-f]{32}$/.test(name)) return undefined
  return { project: match[1] ?? null, name }
}

/**
 * How a workspace is saved (its output, and each save while it runs): a UnixFS folder with
 * `home/` (what /home/floe held), `code/` (what /code held: edits there are kept) and this
 * marker file. A save from before /code was kept is the home folder itself, without the
 * marker: it restores as the home, with the code of the run it came from.
 */
export const SAVED_MARKER = '.floe-workspace'
export const SAVED_HOME = 'home'
export const SAVED_CODE = 'code'
/** the marker's bytes: the layout's version */
export const SAVED_MARKER_TEXT = '{"layout":2,"home":"home","code":"code"}\n'
