// The browser demo (--examples), in Debian's Chromium: a worker page that was closed gets the
// jobs it missed when it is opened again (the broker kept them for the absent receiver), and two
// chat pages hear each other. Without --examples there are no pages.
import type { Browser, Page } from 'playwright-core'
import t from 'tap'
import { launchChromium } from '../helpers/browser.js'
import { startServer } from '../helpers/server.js'

async function opened(browser: Browser, url: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage()
  await page.goto(url)
  await page.waitForFunction("document.getElementById('state')?.textContent === 'connected'")
  return page
}

const log = (page: Page): Promise<string[]> => page.locator('#log li').allTextContents()

async function logShows(page: Page, expected: string[]): Promise<void> {
  // A string: the function runs in the page, where the DOM is.
  const want = JSON.stringify(expected)
  await page.waitForFunction(`${want}.every((line) => [...document.querySelectorAll('#log li')].some((li) => li.textContent === line))`, undefined, { timeout: 8000 })
}

t.test('a closed worker page gets the jobs it missed when reopened; chat pages hear each other', async (t) => {
  const { addresses } = await startServer(t, { examples: true })
  const browser = await launchChromium(t)
  const base = `${addresses.http}/examples`

  const producer = await opened(browser, `${base}/producer.html`)
  let worker = await opened(browser, `${base}/worker.html`)
  await producer.fill('#job', 'first job')
  await producer.click('#add button')
  await logShows(worker, ['done: first job'])
  await worker.context().close()

  for (const job of ['missed one', 'missed two']) {
    await producer.fill('#job', job)
    await producer.click('#add button')
  }
  await logShows(producer, ['queued: missed one', 'queued: missed two'])
  worker = await opened(browser, `${base}/worker.html`)
  await logShows(worker, ['done: missed one', 'done: missed two'])
  t.same(await log(worker), ['done: missed one', 'done: missed two'], 'the reopened worker got what it missed, in order, and nothing twice')

  const alice = await opened(browser, `${base}/chat.html`)
  const bob = await opened(browser, `${base}/chat.html`)
  await alice.fill('#name', 'alice')
  await alice.fill('#text', 'hello bob')
  await alice.click('#say button')
  await logShows(bob, ['alice: hello bob'])
  t.pass('bob heard alice')
  t.match(await (await fetch(`${base}/`)).text(), /stompd examples/, 'an index page links them')
})

t.test('without --examples there are no pages', async (t) => {
  const { addresses } = await startServer(t)
  t.equal((await fetch(`${addresses.http}/examples/worker.html`)).status, 404)
})
