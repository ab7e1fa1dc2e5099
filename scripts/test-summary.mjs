// Prints the suite's closing line, "N passed, N failed", from vitest's JSON report, so a run
// that executed nothing shows as "0 passed, 0 failed". Before it: skipped (opt-in) tests, each
// test that passed only on its retry with what failed the first time (a flake stays visible),
// and each file that failed outside its tests (a hook: an afterAll finding containers left
// behind), which counts as a failure in the closing line.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'

const file = process.argv[2]
let report
try {
  report = JSON.parse(readFileSync(file, 'utf8'))
} catch (err) {
  console.log(`test runner wrote no results (${err.message})`)
  console.log('0 passed, 0 failed')
  process.exit(1)
}
const firstLine = text => String(text ?? '').split('\n').find(line => line.trim() !== '')?.trim().slice(0, 200) ?? ''
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
if (skipped > 0) console.log(`${skipped} skipped (opt-in tests; see README, Development)`)
let outside = 0
for (const result of report.testResults ?? []) {
  const name = relative(process.cwd(), result.name)
  for (const test of result.assertionResults ?? []) {
    if (test.status === 'passed' && (test.failureMessages ?? []).length > 0) {
      console.log(`passed on its retry: ${name} > ${test.title}\n  first failed with: ${firstLine(test.failureMessages[0])}`)
    }
  }
  const failedTests = (result.assertionResults ?? []).filter(test => test.status === 'failed').length
  if (result.status === 'failed' && failedTests === 0) {
    outside++
    console.log(`failed outside its tests: ${name}\n  ${firstLine(result.message)}`)
  }
}
const failed = report.numFailedTests + outside
console.log(`${report.numPassedTests} passed, ${failed} failed`)
process.exit(report.numTotalTests > 0 && failed === 0 && report.success !== false ? 0 : 1)
