import { useEffect, useRef, type ReactNode } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { MetricPoint } from '../../../protocol/jobs/metrics.js'

/** x of a point: its step, else its epoch, else seconds since the first point. */
export function axisOf (points: MetricPoint[]): { label: string, x: (p: MetricPoint) => number } {
  if (points.every(p => p.step != null)) return { label: 'step', x: p => p.step as number }
  if (points.every(p => p.epoch != null)) return { label: 'epoch', x: p => p.epoch as number }
  const t0 = points[0]?.at ?? 0
  return { label: 'seconds', x: p => (p.at - t0) / 1000 }
}

/** A chart's text for screen readers: a short summary, not every point. */
export function chartSummary (name: string, points: MetricPoint[]): string {
  const axis = axisOf(points)
  if (points.length === 0) return `${name}: no points yet`
  const values = points.map(p => p.value)
  const first = points[0] as MetricPoint
  const last = points.at(-1) as MetricPoint
  const round = (n: number): string => String(Number(n.toPrecision(6)))
  return `${name} by ${axis.label}: ${points.length} point${points.length === 1 ? '' : 's'} from ${axis.label} ${round(axis.x(first))} to ${round(axis.x(last))}; first ${round(first.value)}, latest ${round(last.value)}, lowest ${round(Math.min(...values))}, highest ${round(Math.max(...values))}`
}

/** One metric's series as a line; redrawn in place as points arrive. */
export function MetricChart ({ name, points }: { name: string, points: MetricPoint[] }): ReactNode {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const axis = axisOf(points)
  const data: uPlot.AlignedData = [points.map(axis.x), points.map(p => p.value)]

  useEffect(() => {
    const el = box.current
    if (el == null) return
    const chart = new uPlot({
      width: Math.max(200, el.clientWidth),
      height: 220,
      scales: { x: { time: false } },
      axes: [{ label: axis.label, stroke: 'currentColor' }, { stroke: 'currentColor' }],
      series: [{ label: axis.label }, { label: name, stroke: '#2f7de1', width: 2, points: { show: true, size: 5 } }],
      legend: { show: true }
    }, data, el)
    plot.current = chart
    const resize = new ResizeObserver(() => { chart.setSize({ width: Math.max(200, el.clientWidth), height: 220 }) })
    resize.observe(el)
    return () => { resize.disconnect(); chart.destroy(); plot.current = null }
  }, [name, axis.label])

  useEffect(() => { plot.current?.setData(data) })

  return (
    <figure className='chart'>
      <figcaption>{name} <span className='muted'>({points.length} point{points.length === 1 ? '' : 's'}, latest {points.at(-1)?.value})</span></figcaption>
      <div ref={box} data-metric={name} data-points={points.length} role='img' aria-label={chartSummary(name, points)} />
    </figure>
  )
}
