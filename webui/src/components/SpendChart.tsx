import { useEffect, useRef, type ReactNode } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

/** Credits by day as bars (days as UTC midnights); redrawn in place when the days change. */
export function SpendChart ({ days, label }: { days: Array<{ day: string, credits: number }>, label: string }): ReactNode {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const data: uPlot.AlignedData = [days.map(d => Date.parse(`${d.day}T00:00:00Z`) / 1000), days.map(d => d.credits)]
  useEffect(() => {
    const el = box.current
    if (el == null) return
    const chart = new uPlot({
      width: Math.max(200, el.clientWidth),
      height: 200,
      axes: [{ stroke: 'currentColor' }, { stroke: 'currentColor', label: 'credits' }],
      series: [{ label: 'day' }, { label, stroke: '#2f7de1', fill: 'rgba(47,125,225,0.25)', width: 2, paths: uPlot.paths.bars?.({ size: [0.6, 40] }), points: { show: false } }],
      legend: { show: true }
    }, data, el)
    plot.current = chart
    const resize = new ResizeObserver(() => { chart.setSize({ width: Math.max(200, el.clientWidth), height: 200 }) })
    resize.observe(el)
    return () => { resize.disconnect(); chart.destroy(); plot.current = null }
  }, [label])
  useEffect(() => { plot.current?.setData(data) })
  return (
    <figure className='chart'>
      <figcaption>{label} by day</figcaption>
      <div ref={box} role='img' aria-label={`${label} by day: ${days.map(d => `${d.day} → ${d.credits}`).join(', ')}`} />
    </figure>
  )
}
