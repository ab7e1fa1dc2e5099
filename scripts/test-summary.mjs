// Prints the suite's closing line, "N passed, N failed[, N skipped]", from vitest's JSON
// report, so a run that executed nothing shows as "0 passed, 0 failed".
import { readFileSync } from 'node:fs'

const file = process.argv[2]
let report
try {
  report = JSON.parse(readFileSync(file, 'utf8'))
} catch (err) {
  console.log(`test runner wrote no results (${err.message})`)
  console.log('0 passed, 0 failed')
  process.exit(1)
}
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
console.log(`${report.numPassedTests} passed, ${report.numFailedTests} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
process.exit(report.numTotalTests > 0 && report.numFailedTests === 0 && report.success !== false ? 0 : 1)
