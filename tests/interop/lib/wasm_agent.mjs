// wasm agents: @openim/wasm-client-sdk (Go core compiled to wasm) in headless Chromium.
//
// A small static server serves tests/interop (page + node_modules assets) with COOP/COEP so the
// page is cross-origin isolated (the SDK's IndexedDB-backed SQLite needs SharedArrayBuffer).
// Chromium is the system one (CHROMIUM_PATH or /usr/bin/chromium), driven by playwright-core;
// no browser is ever downloaded. Each agent gets its own browser context, i.e. its own empty
// IndexedDB/storage, and playwright launches the browser with a fresh temporary profile dir.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { AgentBase } from './agent.mjs';
import { withTimeout } from './common.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function startStaticServer() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const file = path.resolve(ROOT, '.' + decodeURIComponent(url.pathname));
    const allowed = file.startsWith(ROOT + path.sep) && (req.method === 'GET' || req.method === 'HEAD');
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    if (!allowed || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, headers);
      res.end('not found');
      return;
    }
    headers['Content-Type'] = TYPES[path.extname(file)] || 'application/octet-stream';
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

class WasmAgent extends AgentBase {
  constructor(env, name, context, page) {
    super('wasm', name);
    this.env = env;
    this.context = context;
    this.page = page;
  }

  async call(cmd, args = {}, timeoutMs = 30000) {
    if (cmd === 'exit') return this.close();
    const r = await withTimeout(
      this.page.evaluate(([c, a]) => window.harness[c](a), [cmd, args]),
      timeoutMs,
      `${this.name}.${cmd}`,
    );
    if (!r.ok) throw r.error;
    return r.result;
  }

  async close() {
    try {
      await withTimeout(this.page.evaluate(() => window.harness.logout({})), 3000, 'logout');
    } catch {
      /* ignore */
    }
    await this.context.close().catch(() => undefined);
  }
}

export class WasmEnv {
  static async start({ logDir, chromium: exe } = {}) {
    const env = new WasmEnv();
    env.logDir = logDir;
    env.server = await startStaticServer();
    env.origin = `http://127.0.0.1:${env.server.address().port}`;
    env.browser = await chromium.launch({
      executablePath: exe || process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30000,
    });
    return env;
  }

  async newAgent(name) {
    const context = await this.browser.newContext();
    const page = await context.newPage();
    const agent = new WasmAgent(this, name, context, page);
    const log = this.logDir ? fs.createWriteStream(path.join(this.logDir, `${name}.wasm.log`), { flags: 'a' }) : null;
    page.on('console', (m) => log && log.write(`[${m.type()}] ${m.text()}\n`));
    page.on('pageerror', (e) => {
      log && log.write(`[pageerror] ${e.message}\n`);
      agent.pushEvent({ type: 'event', event: 'page-error', data: { message: e.message }, t: Date.now() });
    });
    await page.exposeFunction('__emit', (event, data) => agent.pushEvent({ type: 'event', event, data, t: Date.now() }));
    await page.goto(`${this.origin}/wasm/index.html`, { timeout: 30000 });
    await page.waitForFunction(() => window.harnessReady === true, null, { timeout: 30000 });
    const isolated = await page.evaluate(() => window.crossOriginIsolated);
    if (!isolated) throw new Error('page is not crossOriginIsolated (COOP/COEP headers missing?)');
    return agent;
  }

  async stop() {
    await this.browser.close().catch(() => undefined);
    await new Promise((r) => this.server.close(r));
  }
}
