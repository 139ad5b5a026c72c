import type { Server } from 'node:http'
import type { Socket } from 'node:net'

interface ConnectionState {
  readonly acceptedAt: number
  /** Requests of this connection being handled now. */
  active: number
  /** Whether it has been answered at least once. */
  served: boolean
}

/**
 * Keeps track of the server's connections so a shutdown can close the idle ones without
 * cutting a client off mid-request.
 *
 * NOTE: Node's own closeIdleConnections() (called by server.close()) also destroys a
 * connection accepted a moment ago whose first request is not read yet: its client gets a
 * reset. Here such a fresh connection is left alone for `freshMs`, long enough for its
 * request to arrive and be answered (with `Connection: close` while draining).
 */
export function trackConnections(server: Server, freshMs = 1000) {
  const connections = new Map<Socket, ConnectionState>()
  server.on('connection', (socket: Socket) => {
    connections.set(socket, { acceptedAt: Date.now(), active: 0, served: false })
    socket.once('close', () => connections.delete(socket))
  })
  server.on('request', (request, response) => {
    const state = connections.get(request.socket)
    if (!state) return
    state.active++
    response.once('close', () => {
      state.active--
      state.served = true
    })
  })

  /** Destroys every connection with no request in progress, except fresh unanswered ones. */
  function closeIdleConnections(): void {
    const now = Date.now()
    for (const [socket, state] of connections) {
      if (state.active === 0 && (state.served || now - state.acceptedAt >= freshMs)) socket.destroy()
    }
  }

  return { closeIdleConnections }
}
