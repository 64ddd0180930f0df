// Debian's Chromium, headless, driven by playwright-core (which downloads no browser), closed at
// teardown; with the flags this closed network needs (no background requests, no QUIC).
import { chromium, type Browser } from 'playwright-core'
import type { Teardown } from './server.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export async function launchChromium(t: Teardown): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(() => browser.close())
  return browser
}
