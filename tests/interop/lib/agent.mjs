// Parent-side handle on one official-client instance ("agent").
//
// js / native agents run in their own Node child process (the Go core keeps global state, so one
// SDK instance per process); wasm agents are browser pages (see wasm_agent.mjs). All expose:
//   call(cmd, args, timeoutMs) -> result       (login, send, history, logout)
//   events                                      ({event, data, t} in arrival order)
//   waitEvent(pred, timeoutMs, what) -> event
//   close()
import { fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './common.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export class AgentBase {
  constructor(kind, name) {
    this.kind = kind;
    this.name = name;
    this.events = [];
    this.waiters = [];
  }

  pushEvent(ev) {
    this.events.push(ev);
    for (const w of [...this.waiters]) {
      if (w.pred(ev)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(ev);
      }
    }
  }

  waitEvent(pred, timeoutMs, what) {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    let waiter;
    const p = new Promise((resolve) => {
      waiter = { pred, resolve };
      this.waiters.push(waiter);
    });
    return withTimeout(p, timeoutMs, `${this.name}: ${what}`).catch((e) => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
      throw e;
    });
  }
}

class ProcessAgent extends AgentBase {
  constructor(kind, name, script, execArgv, logFile, env) {
    super(kind, name);
    this.pending = new Map();
    this.nextId = 1;
    this.exited = null;
    const out = logFile ? fs.openSync(logFile, 'a') : 'ignore';
    this.child = fork(script, [], {
      execArgv,
      stdio: ['ignore', out, out, 'ipc'],
      env: { ...process.env, ...env },
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('exit', (code, signal) =>
        reject(new Error(`${name} worker exited before ready (${code ?? signal}); see ${logFile}`)),
      );
      this.child.on('message', (msg) => {
        if (msg.type === 'ready') resolve();
        else if (msg.type === 'event') this.pushEvent(msg);
        else if (msg.type === 'reply') {
          const p = this.pending.get(msg.id);
          if (p) {
            this.pending.delete(msg.id);
            if (msg.ok) p.resolve(msg.result);
            else p.reject(msg.error);
          }
        }
      });
    });
    this.child.on('exit', (code, signal) => {
      this.exited = { code, signal };
      this.pushEvent({ type: 'event', event: 'process-exit', data: { code, signal }, t: Date.now() });
      for (const p of this.pending.values()) p.reject(new Error(`${name} worker exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  async call(cmd, args = {}, timeoutMs = 30000) {
    await withTimeout(this.ready, 20000, `${this.name} worker start`);
    if (this.exited) throw new Error(`${this.name} worker already exited (${JSON.stringify(this.exited)})`);
    const id = this.nextId++;
    const p = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.child.send({ id, cmd, args });
    return withTimeout(p, timeoutMs, `${this.name}.${cmd}`);
  }

  async close() {
    if (this.exited) return;
    try {
      await this.call('exit', {}, 3000);
    } catch {
      /* ignore */
    }
    await Promise.race([
      new Promise((r) => this.child.once('exit', r)),
      new Promise((r) => setTimeout(r, 3000)),
    ]);
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/** Start a js or native agent. opts: {logDir} */
export function spawnProcessAgent(kind, name, opts = {}) {
  const logFile = opts.logDir ? path.join(opts.logDir, `${name}.${kind}.log`) : null;
  if (kind === 'js') {
    return new ProcessAgent(kind, name, path.join(HERE, 'worker_js.mjs'), ['--experimental-websocket'], logFile, {});
  }
  if (kind === 'native') {
    return new ProcessAgent(kind, name, path.join(HERE, 'worker_native.mjs'), [], logFile, {});
  }
  throw new Error(`unknown process agent kind ${kind}`);
}
