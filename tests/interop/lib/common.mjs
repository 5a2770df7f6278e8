// Shared helpers for the interop drivers: argument parsing, admin REST calls, normalisation.
import { randomUUID } from 'node:crypto';

export { messageText, messagesOf, slimMessage } from './messages.mjs';

export function parseArgs(argv, defaults = {}) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) {
      out[camel(a.slice(2, eq))] = a.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      out[camel(a.slice(2))] = argv[++i];
    } else {
      out[camel(a.slice(2))] = 'true';
    }
  }
  return out;
}

function camel(s) {
  return s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function opID(prefix = 'interop') {
  return `${prefix}-${Date.now()}-${randomUUID().slice(0, 8)}`;
}

/** POST a JSON body to the OpenIM REST API; returns the parsed envelope (throws on HTTP/JSON failure). */
export async function restCall(apiAddr, path, body, token) {
  const headers = { 'Content-Type': 'application/json', operationID: opID('rest') };
  if (token) headers.token = token;
  const res = await fetch(apiAddr.replace(/\/$/, '') + path, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let env;
  try {
    env = JSON.parse(text);
  } catch {
    throw new Error(`${path}: HTTP ${res.status}, non-JSON body ${JSON.stringify(text.slice(0, 300))}`);
  }
  return env;
}

/** Mint a user token with an admin token (`/auth/get_user_token`). */
export async function mintUserToken(apiAddr, adminToken, userID, platformID) {
  const env = await restCall(apiAddr, '/auth/get_user_token', { userID, platformID: Number(platformID) }, adminToken);
  if (env.errCode !== 0 || !env.data || !env.data.token) {
    throw new Error(`/auth/get_user_token ${userID}/${platformID} failed: ${JSON.stringify(env)}`);
  }
  return env.data.token;
}

export async function adminToken(apiAddr, secret = 'openIM123', userID = 'imAdmin') {
  const env = await restCall(apiAddr, '/auth/get_admin_token', { secret, userID });
  if (env.errCode !== 0 || !env.data || !env.data.token) {
    throw new Error(`/auth/get_admin_token failed: ${JSON.stringify(env)}`);
  }
  return env.data.token;
}

export function singleConversationID(a, b) {
  return 'si_' + [a, b].sort().join('_');
}

export function errInfo(e) {
  if (e === undefined || e === null) return String(e);
  if (e instanceof Error) return { message: e.message, stack: (e.stack || '').split('\n').slice(0, 4).join(' | ') };
  if (typeof e === 'object') {
    const { errCode, errMsg, event, operationID, data } = e;
    if (errCode !== undefined || errMsg !== undefined) return { errCode, errMsg, event, operationID, data };
    try {
      return JSON.parse(JSON.stringify(e));
    } catch {
      return String(e);
    }
  }
  return String(e);
}

export function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`timeout after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

// A scenario driver's entry: runs ``run(options)`` and prints its result as one JSON line.
export function scenarioMain(run) {
  return async (argv) => {
    const o = parseArgs(argv);
    const out = await run(o).catch((e) => ({ ok: false, fatal: errInfo(e) }));
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exit(0);
  };
}

// ``step(name, fn)``: runs one step, recording its result or error (and time) in ``out.steps``.
export function stepRecorder(out) {
  return async function step(name, fn) {
    const t0 = Date.now();
    try {
      const result = await fn();
      out.steps[name] = { ok: true, ms: Date.now() - t0, result };
      return result;
    } catch (e) {
      out.steps[name] = { ok: false, ms: Date.now() - t0, error: errInfo(e) };
      return undefined;
    }
  };
}
