// Runs api.js and order.js outside WeChat: a `wx` of fetch and WebSocket (Node 20 with
// --experimental-websocket, or 22+). tests/e2e/test_client_examples.py runs it against a
// served app:  node harness.mjs http://127.0.0.1:8000/graphql SH-XJH openid
const [url, storeCode, openid] = process.argv.slice(2)
const storage = new Map()

globalThis.wx = {
  getStorageSync: key => storage.get(key) ?? '',
  setStorageSync: (key, value) => storage.set(key, value),
  login: async () => ({code: `test:${openid}`}), // the development gateway's codes
  request({url, method, header, data, success, fail}) {
    fetch(url, {method, headers: header, body: JSON.stringify(data)})
      .then(async res => success({statusCode: res.status, data: await res.json()}), fail)
  },
  connectSocket({url, protocols}) {
    const ws = new WebSocket(url, protocols)
    return {
      send: ({data}) => ws.send(data),
      close: () => ws.close(),
      onOpen: f => ws.addEventListener('open', () => f()),
      onMessage: f => ws.addEventListener('message', e => f({data: e.data})),
      onClose: f => ws.addEventListener('close', e => f({code: e.code})),
    }
  },
}

const {configure, login, gql, accessToken} = await import('./api.js')
const {placePickupOrder, follow} = await import('./order.js')

configure({url, appId: 'wx-demo'})
await login('小程序')
const {locationByCode: store} = await gql(
  `query($c: String!) { locationByCode(code: $c) { id coordinates { latitude longitude } } }`,
  {c: storeCode})
const {products} = await gql(`query($near: NearInput!) { products(first: 10) { edges { node {
  variants { id availability(near: $near, pickupOnly: true, first: 1) { location { id } status } }
} } } }`, {near: store.coordinates})
const variant = products.edges.flatMap(e => e.node.variants).find(v =>
  v.availability.some(a => a.location.id === store.id && a.status !== 'OUT_OF_STOCK'))
const order = await placePickupOrder(variant.id, store.id, `cart-${Date.now()}`)

console.log(JSON.stringify({orderId: order.id, placed: order.status}))

// The order page follows the order; the test says "go" on stdin once the server has the
// subscription, and the shopper cancels.
const cancel = () => gql(`mutation($o: ID!) { cancelOrder(input: {orderId: $o,
  reason: "changed my mind"}) { errors { code } } }`, {o: order.id})
const event = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no live event in 10 s')), 10000)
  const socket = follow(url.replace(/^http/, 'ws'), order.id, accessToken(), e => {
    clearTimeout(timer)
    socket.close()
    resolve(e)
  })
  process.stdin.once('data', () => cancel().catch(reject))
})
console.log(JSON.stringify({event}))
process.exit(0)
