// The dashboard: one page of plain HTML, CSS and a small module script (no framework, no CDN:
// it works offline), fed by the management API's event stream (server-sent events, once a
// second while the page is open) and acting through its routes. Server-sent events rather than
// a STOMP topic: nothing is published, nor anything computed, while nobody watches, and a
// browser sends the page's credentials with it by itself.

/** The page; `api` is where the management API answers (`/api`, or `/stompd/api` in a plugin). */
export function dashboardPage(api: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stompd</title>
<style>
  :root { font: 14px/1.4 system-ui, sans-serif; color: #1d2330; background: #f5f6f8; }
  body { margin: 0 auto; max-width: 1100px; padding: 16px; }
  h1 { font-size: 20px; margin: 0 0 12px; } h2 { font-size: 16px; margin: 20px 0 8px; }
  .cards { display: flex; gap: 12px; flex-wrap: wrap; }
  .card { background: #fff; border-radius: 6px; padding: 10px 14px; min-width: 120px; box-shadow: 0 1px 2px #0002; }
  .card b { display: block; font-size: 20px; }
  table { width: 100%; border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0002; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e3e6ea; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  button { font: inherit; padding: 2px 8px; cursor: pointer; }
  canvas { background: #fff; width: 100%; height: 120px; box-shadow: 0 1px 2px #0002; }
  form { display: grid; gap: 6px; grid-template-columns: 1fr 1fr; background: #fff; padding: 10px; box-shadow: 0 1px 2px #0002; }
  form textarea { grid-column: span 2; min-height: 60px; }
  #status { color: #a33; }
</style>
</head>
<body>
<h1>stompd <span id="version"></span> <small id="status"></small></h1>
<div class="cards">
  <div class="card">connections<b id="connections">–</b></div>
  <div class="card">published/s<b id="publishRate">–</b></div>
  <div class="card">delivered/s<b id="deliverRate">–</b></div>
  <div class="card">memory<b id="memory">–</b></div>
  <div class="card">uptime<b id="uptime">–</b></div>
</div>
<h2>Messages per second (last 2 minutes)</h2>
<canvas id="chart" width="1100" height="120"></canvas>
<h2>Destinations</h2>
<table id="destinations"><thead><tr><th>name</th><th>type</th><th>depth</th><th>unacked</th><th>consumers</th><th>in/s</th><th>out/s</th><th>DLQ</th><th></th></tr></thead><tbody></tbody></table>
<h2>Connections</h2>
<table id="connections-table"><thead><tr><th>user</th><th>remote</th><th>transport</th><th>version</th><th>subscriptions</th><th>since</th><th></th></tr></thead><tbody></tbody></table>
<h2>Publish a message</h2>
<form id="publish">
  <input name="destination" placeholder="/queue/test" required>
  <input name="headers" placeholder="headers: name:value, name:value">
  <textarea name="body" placeholder="body"></textarea>
  <button type="submit">Publish</button> <span id="published"></span>
</form>
<script type="module">
const api = ${JSON.stringify(api)}
const $ = (id) => document.getElementById(id)
const history = []
const cell = (text, numeric) => { const td = document.createElement('td'); td.textContent = text ?? ''; if (numeric) td.className = 'n'; return td }
const button = (label, action) => { const b = document.createElement('button'); b.textContent = label; b.onclick = action; return b }
const act = async (method, path) => { const r = await fetch(api + path, { method }); if (!r.ok) $('status').textContent = (await r.json()).error ?? r.statusText }
const queueName = (name) => encodeURIComponent(name.slice('/queue/'.length))

function render({ overview, destinations, connections }) {
  $('version').textContent = overview.version
  $('connections').textContent = overview.connections
  $('publishRate').textContent = overview.messages.publishRate
  $('deliverRate').textContent = overview.messages.deliverRate
  $('memory').textContent = Math.round(overview.memory.rss / 1048576) + ' MB'
  $('uptime').textContent = overview.uptimeSeconds + ' s'
  $('status').textContent = overview.store.ok && overview.cluster.ok ? '' : (overview.store.problem ?? overview.cluster.problem)
  const rows = destinations.map((d) => {
    const tr = document.createElement('tr')
    tr.dataset.name = d.name
    tr.append(cell(d.name), cell(d.type), cell(d.depth, true), cell(d.unacked, true), cell(d.consumers, true), cell(d.publishRate, true), cell(d.deliverRate, true), cell(d.dlqDepth, true))
    const actions = document.createElement('td')
    if (d.type === 'queue') {
      actions.append(button('Purge', () => act('DELETE', '/queues/' + queueName(d.name) + '/messages')))
      if (d.dlqDepth > 0) actions.append(' ', button('Redrive', () => act('POST', '/queues/' + queueName(d.name) + '/redrive')))
    }
    tr.append(actions)
    return tr
  })
  $('destinations').tBodies[0].replaceChildren(...rows)
  $('connections-table').tBodies[0].replaceChildren(...connections.map((c) => {
    const tr = document.createElement('tr')
    tr.append(cell(c.user ?? '(anonymous)'), cell(c.remote), cell(c.transport), cell(c.version), cell(c.subscriptions, true), cell(new Date(c.connectedSince).toLocaleTimeString()))
    const actions = document.createElement('td')
    actions.append(button('Close', () => act('DELETE', '/connections/' + encodeURIComponent(c.id))))
    tr.append(actions)
    return tr
  }))
  history.push([overview.messages.publishRate, overview.messages.deliverRate])
  if (history.length > 120) history.shift()
  draw()
}

function draw() {
  const canvas = $('chart')
  const g = canvas.getContext('2d')
  g.clearRect(0, 0, canvas.width, canvas.height)
  const max = Math.max(1, ...history.flat())
  const x = (i) => (i / 119) * canvas.width
  const y = (v) => canvas.height - 4 - (v / max) * (canvas.height - 8)
  for (const [series, color] of [[0, '#2b6cb0'], [1, '#2f855a']]) {
    g.strokeStyle = color
    g.beginPath()
    history.forEach((point, i) => (i === 0 ? g.moveTo(x(i), y(point[series])) : g.lineTo(x(i), y(point[series]))))
    g.stroke()
  }
}

$('publish').onsubmit = async (event) => {
  event.preventDefault()
  const form = new FormData(event.target)
  const headers = {}
  for (const pair of String(form.get('headers')).split(',')) {
    const colon = pair.indexOf(':')
    if (colon > 0) headers[pair.slice(0, colon).trim()] = pair.slice(colon + 1).trim()
  }
  const r = await fetch(api + '/publish', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ destination: form.get('destination'), headers, body: form.get('body') }) })
  const answer = await r.json()
  $('published').textContent = r.ok ? 'published ' + answer.id : answer.error
}

const events = new EventSource(api + '/events')
events.onmessage = (event) => render(JSON.parse(event.data))
events.onerror = () => { $('status').textContent = 'reconnecting…' }
</script>
</body>
</html>
`
}
