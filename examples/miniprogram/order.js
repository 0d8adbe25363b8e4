// Place a pickup order; follow it live over graphql-transport-ws with wx.connectSocket.
import {gql} from './api.js'

export async function placePickupOrder(variantId, storeId, cartId) {
  const data = await gql(`mutation($v: ID!, $store: ID!, $key: String!) {
    placeOrder(input: {channel: MINI_PROGRAM, idempotencyKey: $key,
      lines: [{variantId: $v, quantity: 1}], fulfilment: {pickup: {locationId: $store}}}) {
      order { id number pickupNumber status total { amount formatted } }
      errors { code message field } } }`,
    {v: variantId, store: storeId, key: cartId}) // the same key again: the same order
  const payload = data.placeOrder
  if (payload.errors.length) throw new Error(payload.errors[0].message)
  return payload.order
}

export function follow(wsUrl, orderId, accessToken, onEvent, onReady) {
  const socket = wx.connectSocket({url: wsUrl, protocols: ['graphql-transport-ws']})
  const send = message => socket.send({data: JSON.stringify(message)})
  socket.onOpen(() => send({type: 'connection_init',
                            payload: {authorization: `Bearer ${accessToken}`}}))
  socket.onMessage(({data}) => {
    const message = JSON.parse(data)
    if (message.type === 'connection_ack') {
      send({id: '1', type: 'subscribe', payload: {
        query: `subscription($id: ID!) { orderUpdated(orderId: $id) { orderId status at } }`,
        variables: {id: orderId}}})
      if (onReady) onReady()
    } else if (message.type === 'ping') {
      send({type: 'pong'})
    } else if (message.type === 'next') {
      onEvent(message.payload.data.orderUpdated)
    } else if (message.type === 'error') {
      // e.g. SLOW_CONSUMER or LIVE_EVENTS_UNAVAILABLE: refetch the order, then follow again
      onEvent({error: message.payload[0].extensions.code})
    }
  })
  socket.onClose(() => { /* 4401: the token expired or was revoked: refresh, reconnect */ })
  return socket
}
