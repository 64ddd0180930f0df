// What every example page shares: a @stomp/stompjs client for this broker's WebSocket.
// StompJs comes from stomp.umd.min.js, the @stomp/stompjs package's own browser bundle.
export function connect(onConnect) {
  const client = new StompJs.Client({
    brokerURL: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
    reconnectDelay: 2000,
    onConnect: () => {
      document.getElementById('state').textContent = 'connected'
      onConnect(client)
    },
    onWebSocketClose: () => { document.getElementById('state').textContent = 'disconnected, retrying…' },
  })
  client.activate()
  return client
}

export function show(text) {
  const li = document.createElement('li')
  li.textContent = text
  document.getElementById('log').append(li)
}
