import { describe, it } from 'vitest'
import { MemoryNetwork } from '../memory/network.js'
import { SessionResponder, runSessionCheck, sessionChecks } from './session-suite.js'

describe('the Session suite on in-memory sessions', () => {
  // A quarter of the datagrams are lost: the datagram check has to resend.
  const network = new MemoryNetwork({ seed: 1, datagramLoss: 0.25 })
  const responder = new SessionResponder()
  const url = network.listen({ choose: () => undefined, session: (s) => responder.serve(s) })

  for (const check of sessionChecks) {
    it(check.name, () => runSessionCheck(check, () => network.dial(url, [])))
  }
})
