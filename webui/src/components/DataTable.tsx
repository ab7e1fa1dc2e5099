import { useId, useMemo, useState, type ReactNode } from 'react'

export interface Column<T> {
  key: string
  label: string
  render: (row: T) => ReactNode
  /** what the column sorts by; unsortable without */
  sort?: (row: T) => string | number
  className?: string
}

/**
 * A table whose sortable columns sort on a click or Enter on their header button; at phone
 * width, where rows become cards and headers hide, a "Sort by" select does the same.
 */
export function DataTable<T> ({ rows, columns, rowKey, initialSort, caption }: { rows: T[], columns: Array<Column<T>>, rowKey: (row: T) => string, initialSort?: { key: string, desc?: boolean }, caption?: string }): ReactNode {
  const [sort, setSort] = useState(initialSort)
  const sorted = useMemo(() => {
    const column = columns.find(c => c.key === sort?.key)
    if (column?.sort == null) return rows
    const by = column.sort
    return [...rows].sort((a, b) => {
      const x = by(a)
      const y = by(b)
      const order = x < y ? -1 : x > y ? 1 : 0
      return sort?.desc === true ? -order : order
    })
  }, [rows, columns, sort])
  const id = useId()
  const sortable = columns.filter(c => c.sort != null)
  return (
    <div className='table-wrap'>
      {sortable.length > 0 && (
        <div className='sort-select'>
          <label htmlFor={`${id}-sort`}>Sort by</label>
          <select id={`${id}-sort`} value={sort == null ? '' : `${sort.key}:${sort.desc === true ? 'desc' : 'asc'}`} onChange={e => { const [key = '', order] = e.target.value.split(':'); setSort(key === '' ? undefined : { key, desc: order === 'desc' }) }}>
            {sort == null && <option value=''>—</option>}
            {sortable.flatMap(c => [
              <option key={`${c.key}:asc`} value={`${c.key}:asc`}>{c.label}, ascending</option>,
              <option key={`${c.key}:desc`} value={`${c.key}:desc`}>{c.label}, descending</option>
            ])}
          </select>
        </div>
      )}
      <table className='data'>
        {caption != null && <caption className='sr-only'>{caption}</caption>}
        <thead>
          <tr>
            {columns.map(c => (
              <th key={c.key} scope='col' className={c.className} aria-sort={sort?.key === c.key ? (sort.desc === true ? 'descending' : 'ascending') : undefined}>
                {c.sort == null
                  ? c.label
                  : <button type='button' className='sort' onClick={() => { setSort({ key: c.key, desc: sort?.key === c.key ? sort.desc !== true : false }) }}>
                    {c.label}{sort?.key === c.key ? (sort.desc === true ? ' ▾' : ' ▴') : ''}
                  </button>}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {sorted.map(row => <tr key={rowKey(row)}>{columns.map(c => <td key={c.key} className={c.className} data-label={c.label}>{c.render(row)}</td>)}</tr>)}
        </tbody>
      </table>
    </div>
  )
}
