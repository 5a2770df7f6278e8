// Exit 0 and print the browser version if the system Chromium can be launched headless by
// playwright-core (used by the pytest fixture to decide whether the wasm test can run).
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './wasm_agent.mjs';

const exe = process.argv[2] || process.env.CHROMIUM_PATH || '/usr/bin/chromium';
try {
  const browser = await chromium.launch({ executablePath: exe, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
  const page = await browser.newPage();
  await page.goto('about:blank');
  console.log(JSON.stringify({ ok: true, version: browser.version() }));
  await browser.close();
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e && e.message ? e.message : e).slice(0, 2000) }));
  process.exit(1);
}
