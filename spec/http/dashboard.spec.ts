// The dashboard in a real browser (Debian's Chromium driven by playwright-core): a queue's depth
// rises as messages are published and falls as a consumer drains it, the Purge button empties a
// queue, the publish form delivers to a subscriber. A screenshot goes to tmp/dashboard.png (not
// committed).
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import t from 'tap'
import { eventually } from '../helpers/expect.js'
import { launchChromium } from '../helpers/browser.js'
import { startServer } from '../helpers/server.js'
import { header, messages, open, request, subscribe } from '../helpers/stomp.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** The text of a column of the destination row `name`, as the page shows it now. */
async function column(page: Page, name: string, index: number): Promise<string | null> {
  const row = page.locator(`tr[data-name="${name}"] td:nth-child(${index})`)
  return (await row.count()) === 0 ? null : row.textContent()
}

async function until(page: Page, name: string, index: number, expected: string): Promise<void> {
  const deadline = Date.now() + 8000
  for (;;) {
    if (await column(page, name, index) === expected) return
    if (Date.now() > deadline) throw new Error(`${name} column ${index} never showed ${expected} (last: ${await column(page, name, index)})`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const DEPTH = 3

t.test('the dashboard shows depth rising and falling, purges, and publishes', async (t) => {
  const { addresses } = await startServer(t)
  const browser = await launchChromium(t)
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  await page.goto(`${addresses.http}/dashboard`)
  t.equal(await page.title(), 'stompd')

  const producer = await open(t, addresses, 'tcp')
  for (let i = 0; i < 5; i++) await request(producer, 'SEND', [['destination', '/queue/work']], `job ${i}`)
  await until(page, '/queue/work', DEPTH, '5')
  t.pass('the depth rose to 5 as the spec published')
  const worker = await open(t, addresses, 'ws')
  await subscribe(worker, 's', '/queue/work')
  await until(page, '/queue/work', DEPTH, '0')
  t.pass('and fell to 0 as a consumer drained it')

  for (let i = 0; i < 3; i++) await request(producer, 'SEND', [['destination', '/queue/junk']], `junk ${i}`)
  await until(page, '/queue/junk', DEPTH, '3')
  await page.locator('tr[data-name="/queue/junk"] button', { hasText: 'Purge' }).click()
  await until(page, '/queue/junk', DEPTH, '0')
  const listed = await (await fetch(`${addresses.http}/api/destinations/${encodeURIComponent('/queue/junk')}`)).json() as { depth: number }
  t.equal(listed.depth, 0, 'the Purge button emptied the queue')

  const subscriber = await open(t, addresses, 'tcp')
  await subscribe(subscriber, 's', '/topic/from-the-page')
  await page.fill('input[name=destination]', '/topic/from-the-page')
  await page.fill('input[name=headers]', 'note:typed in a browser')
  await page.fill('textarea[name=body]', 'hello from the dashboard')
  await page.click('#publish button[type=submit]')
  await eventually(() => messages(subscriber).length >= 1, 5000, 'the published message')
  t.equal(messages(subscriber)[0]!.body.toString(), 'hello from the dashboard')
  t.equal(header(messages(subscriber)[0]!, 'note'), 'typed in a browser')
  t.match(await page.textContent('#published'), /^published /)
  t.match(await page.textContent('#connections-table'), /tcp/, 'connections are listed')

  mkdirSync(`${ROOT}tmp`, { recursive: true })
  await page.screenshot({ path: `${ROOT}tmp/dashboard.png`, fullPage: true })
})
