import { useEffect, useRef, type ReactNode } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { MetricPoint } from '../../../protocol/jobs/metrics.js'
import { axisOf } from './MetricChart.js'

/** Colours told apart by most eyes (Okabe–Ito), one per compared job. */
export const SERIES_COLOURS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#d55e00', '#56b4e9', '#f0e442', '#000000']

/** Exponential moving average, as Weights & Biases smooths: weight 0 leaves the values as they are. */
export function smooth (values: number[], weight: number): number[] {
  let last: number | undefined
  return values.map(v => {
    last = last == null ? v : last * weight + v * (1 - weight)
    return last
  })
}

export interface CompareSeries { label: string, colour: string, points: MetricPoint[] }

/**
 * The x values of every series merged, and each series' y at them (null where it has no
 * point): uPlot draws series over one shared x.
 */
export function alignSeries (series: CompareSeries[], weight: number): { label: string, data: uPlot.AlignedData } {
  const axis = axisOf(series.flatMap(s => s.points))
  const xs = [...new Set(series.flatMap(s => s.points.map(axis.x)))].sort((a, b) => a - b)
  const ys = series.map(s => {
    const values = smooth(s.points.map(p => p.value), weight)
    const byX = new Map(s.points.map((p, i) => [axis.x(p), values[i] as number]))
    return xs.map(x => byX.get(x) ?? null)
  })
  return { label: axis.label, data: [xs, ...ys] }
}

/** One metric of several jobs on one chart: a series per job, smoothed, on a linear or log scale. */
export function CompareChart ({ name, series, weight, log }: { name: string, series: CompareSeries[], weight: number, log: boolean }): ReactNode {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  // a log scale has no place for zero or less: those points are left out there
  const shown = log ? series.map(s => ({ ...s, points: s.points.filter(p => p.value > 0) })) : series
  const { label, data } = alignSeries(shown, weight)
  const key = `${name}|${log}|${series.map(s => s.label + s.colour).join(',')}|${label}`
  useEffect(() => {
    const el = box.current
    if (el == null) return
    const chart = new uPlot({
      width: Math.max(200, el.clientWidth),
      height: 240,
      scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
      axes: [{ label, stroke: 'currentColor' }, { stroke: 'currentColor' }],
      series: [{ label }, ...series.map(s => ({ label: s.label, stroke: s.colour, width: 2, spanGaps: true, points: { show: true, size: 4 } }))],
      legend: { show: true }
    }, data, el)
    plot.current = chart
    const resize = new ResizeObserver(() => { chart.setSize({ width: Math.max(200, el.clientWidth), height: 240 }) })
    resize.observe(el)
    return () => { resize.disconnect(); chart.destroy(); plot.current = null }
  }, [key])
  useEffect(() => { plot.current?.setData(data) })
  const last = (i: number): number | undefined => (data[i + 1] as Array<number | null>).findLast(v => v != null) ?? undefined
  const summary = series.map((s, i) => `${s.label} ${last(i) == null ? 'none' : Number(last(i)?.toPrecision(4))}`).join(', ')
  return (
    <figure className='chart compare-chart'>
      <figcaption>{name} <span className='muted'>by {label}{weight > 0 ? `, smoothed ${weight}` : ''}{log ? ', log scale' : ''}</span></figcaption>
      <div ref={box} data-metric={name} data-series={series.length} data-log={String(log)} data-last={summary} role='img' aria-label={`${name}, last value of each job: ${summary}`} />
    </figure>
  )
}
