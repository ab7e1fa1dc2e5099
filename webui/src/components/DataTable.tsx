import { useMemo, useState, type ReactNode } from 'react'

export interface Column<T> {
  key: string
  label: string
  render: (row: T) => ReactNode
  /** what the column sorts by; unsortable without */
  sort?: (row: T) => string | number
  className?: string
}

/** A table whose sortable columns sort on a click or Enter on their header button. */
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
  return (
    <div className='table-wrap'>
      <table>
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
