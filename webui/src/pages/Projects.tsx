import { useState, type FormEvent, type ReactNode } from 'react'
import { Link, useNavigate } from 'react-router'
import { api, useAction, useLoad } from '../api.js'
import { Empty, ErrorBox, Loading, useTitle } from '../components/common.js'
import { DataTable } from '../components/DataTable.js'
import { ago } from '../../../protocol/format.js'

export function Projects (): ReactNode {
  useTitle('Projects')
  const projects = useLoad(async signal => (await api.call('projectList', {}, { signal })).projects, [], 5000)
  const [name, setName] = useState('')
  const { busy, error, run } = useAction()
  const navigate = useNavigate()
  const create = async (event: FormEvent): Promise<void> => {
    event.preventDefault()
    await run(async () => {
      const { project } = await api.call('projectInit', { name: name.trim() })
      navigate(`/projects/${encodeURIComponent(project.id)}`)
    })
  }
  return (
    <main id='main'>
      <h1>Projects</h1>
      <form className='inline' onSubmit={e => { void create(e) }}>
        <label htmlFor='project-name'>New project</label>
        <input id='project-name' name='name' placeholder='mnist' value={name} onChange={e => { setName(e.target.value) }} required pattern='[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)?' />
        <button type='submit' disabled={busy || name.trim() === ''}>Create</button>
      </form>
      <ErrorBox error={error} />
      <ErrorBox error={projects.error} />
      {projects.data == null
        ? projects.error == null && <Loading />
        : projects.data.length === 0
          ? <Empty>No projects yet. Create one above (or run <code>floe init NAME</code> in a code folder).</Empty>
          : <DataTable
              caption='projects'
              rows={projects.data}
              rowKey={p => p.id}
              initialSort={{ key: 'name' }}
              columns={[
                { key: 'name', label: 'Project', render: p => <Link to={`/projects/${encodeURIComponent(p.id)}`}>{p.name}</Link>, sort: p => p.name },
                { key: 'jobs', label: 'Jobs', render: p => p.jobs, sort: p => p.jobs },
                { key: 'members', label: 'Members', render: p => Object.keys(p.members).length, sort: p => Object.keys(p.members).length },
                { key: 'entries', label: 'Log entries', render: p => p.entries, sort: p => p.entries },
                { key: 'created', label: 'Created', render: p => ago(p.createdAt), sort: p => p.createdAt },
                { key: 'access', label: 'Access', render: p => p.writable ? 'member' : 'read-only' }
              ]}
            />}
    </main>
  )
}
