import { describe, expect, it } from 'vitest'
import { explainPullFailure, parseImageReference } from '../../../../daemon/environments/pull.js'
import { dependenciesKey, derivedName } from '../../../../daemon/environments/requirements.js'

describe('image references for floe env pull', () => {
  it('reads registry, repository, tag and digest', () => {
    const digest = `sha256:${'a'.repeat(64)}`
    expect(parseImageReference('127.0.0.1:5000/team/torch:2.1')).toMatchObject({ repository: '127.0.0.1:5000/team/torch', tag: '2.1', digest: null })
    expect(parseImageReference(`busybox@${digest}`)).toMatchObject({ repository: 'busybox', tag: null, digest })
    expect(parseImageReference('library/python')).toMatchObject({ repository: 'library/python', tag: null })
    expect(parseImageReference('localhost:5000/x:y')).toMatchObject({ repository: 'localhost:5000/x', tag: 'y' })
  })

  it('refuses what is not a reference, saying what one looks like', () => {
    for (const bad of ['', 'Upper', 'a//b', 'x:tag with space', '-x', 'x@sha256:abc', 'x@md5:' + 'a'.repeat(32), `x:${'t'.repeat(200)}`]) {
      expect(() => parseImageReference(bad), bad).toThrow(/is not an image reference|at most/)
    }
    expect(() => parseImageReference('x@sha256:abc')).toThrow(/a digest is @sha256: and 64 lowercase hex digits/)
  })

  it('names the cause of a failed pull', () => {
    const ref = parseImageReference('127.0.0.1:5999/a/b:c')
    expect(explainPullFailure(ref, 'Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused').message).toMatch(/^cannot reach the registry 127\.0\.0\.1:5999/)
    expect(explainPullFailure(ref, 'manifest for 127.0.0.1:5999/a/b:c not found: manifest unknown').message).toMatch(/^127\.0\.0\.1:5999 has no image/)
    expect(explainPullFailure(parseImageReference('b'), 'pull access denied for b, repository does not exist').message).toMatch(/^Docker Hub has no image b \(tag latest\)/)
  })
})

describe('derived environments', () => {
  it('are named by the base and a key of (base image id, requirements, index)', () => {
    const pip = { text: 'numpy==1.0\n', from: 'requirements.txt' }
    const key = dependenciesKey('sha256:1', { pip }, {})
    expect(key).toMatch(/^[0-9a-f]{12}$/)
    expect(dependenciesKey('sha256:1', { pip }, {})).toBe(key)
    expect(dependenciesKey('sha256:2', { pip }, {})).not.toBe(key)
    expect(dependenciesKey('sha256:1', { pip: { ...pip, text: 'numpy==1.1\n' } }, {})).not.toBe(key)
    expect(dependenciesKey('sha256:1', { pip }, { indexUrl: 'http://127.0.0.1:1/simple/' })).not.toBe(key)
    expect(derivedName('python-3.11', key)).toBe(`python-3.11-req-${key}`)
    expect(derivedName('x'.repeat(64), key)).toHaveLength(64)
  })
})
