// A store kiosk's pickup board: the `graphql-ws` client (graphql-transport-ws), signed in with
// the kiosk's device token in connection_init. Each (re)connection starts from the board as it
// is (events with `snapshot: true`), then applies changes; an order leaves the board when it
// is neither PREPARING (准备中) nor READY_FOR_PICKUP (请取餐).
//
//   npm ci && node board.mjs ws://127.0.0.1:8000/graphql <storeId> <kioskToken>
//
// prints the board as a JSON line after every event (a kiosk would render it instead).
import {createClient} from 'graphql-ws'

const BOARD = `subscription Board($store: ID!) {
  pickupBoard(locationId: $store) {
    orderId pickupNumber status customerLabel at snapshot
  }
}`
const SHOWN = new Set(['PREPARING', 'READY_FOR_PICKUP'])

export function watchBoard({url, storeId, token, render}) {
  const board = new Map() // orderId -> what the screen shows
  const client = createClient({
    url,
    connectionParams: {authorization: `Bearer ${token}`},
    retryAttempts: Infinity, // a kiosk never gives up; graphql-ws backs off between tries
    shouldRetry: () => true,
    on: {connected: () => board.clear()}, // the snapshot that follows is the whole board
  })
  const subscribe = () => client.subscribe({query: BOARD, variables: {store: storeId}}, {
    next: ({data, errors}) => {
      if (errors) return console.error(errors)
      const event = data.pickupBoard
      if (SHOWN.has(event.status)) board.set(event.orderId, event)
      else board.delete(event.orderId)
      render([...board.values()], event)
    },
    // SLOW_CONSUMER / LIVE_EVENTS_UNAVAILABLE end the stream: start again from the snapshot.
    error: () => setTimeout(() => { board.clear(); subscribe() }, 1000),
    complete: () => {},
  })
  subscribe()
  return () => client.dispose()
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [url, storeId, token] = process.argv.slice(2)
  watchBoard({url, storeId, token, render: (shown, event) => console.log(JSON.stringify({
    event: {orderId: event.orderId, status: event.status, snapshot: event.snapshot},
    board: shown.map(o => `${o.pickupNumber} ${o.customerLabel ?? ''} ${o.status}`),
  }))})
}
