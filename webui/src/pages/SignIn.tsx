import type { ReactNode } from 'react'

/** Shown without a session: no data, only how to get one. */
export function SignIn (): ReactNode {
  const expired = new URLSearchParams(window.location.search).get('signin') === 'expired'
  return (
    <main className='signin' id='main'>
      <h1>floe</h1>
      {expired && <p className='error' role='alert'>That sign-in link has expired or was used already.</p>}
      <p>This is your floe daemon's dashboard. To sign in, run this on the machine the daemon runs on:</p>
      <pre><code>floe ui</code></pre>
      <p>It prints a one-time link (valid for 5 minutes) that signs this browser in.</p>
    </main>
  )
}
