// The interop scenario, generic over client kinds (js | native | wasm):
//   1. A and B log in (tokens minted with the admin token unless given).
//   2. A sends a text to B; B receives the push; B replies; A receives the push.
//   3. A fresh instance A2 (no local state) logs in as A on A's platform with a newly minted token:
//      the server must kick A (multi-login policy 1) -> A sees a "kicked" event.
//   4. A2 loads the A<->B history: both messages, same clientMsgIDs, increasing seqs.
// Prints one JSON object on stdout; every step is recorded as {ok, ms, result | error}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnProcessAgent } from './agent.mjs';
import {
  adminToken,
  errInfo,
  mintUserToken,
  parseArgs,
  singleConversationID,
  sleep,
  withTimeout,
} from './common.mjs';

const DEFAULT_PLATFORM = { js: 5, native: 3, wasm: 5 };

export async function main(argv, fixed = {}) {
  const o = parseArgs(argv, fixed);
  const out = await runScenario(o).catch((e) => ({ ok: false, fatal: errInfo(e) }));
  process.stdout.write(JSON.stringify(out) + '\n');
  // Go threads / browser handles may keep the loop alive: exit explicitly.
  process.exit(0);
}

export async function runScenario(o) {
  const apiAddr = o.api || process.env.OPENIM_API_ADDR;
  const wsAddr = o.ws || process.env.OPENIM_WS_ADDR;
  const userA = o.userA || process.env.OPENIM_USER_A;
  const userB = o.userB || process.env.OPENIM_USER_B;
  if (!apiAddr || !wsAddr || !userA || !userB) {
    throw new Error('need --api, --ws, --user-a, --user-b');
  }
  const kindA = o.kindA || o.kind || 'js';
  const kindB = o.kindB || o.kind || kindA;
  const kindA2 = o.kindA2 || kindA;
  const platA = Number(o.platformA || DEFAULT_PLATFORM[kindA]);
  const platB = Number(o.platformB || DEFAULT_PLATFORM[kindB]);
  const stepTimeout = Number(o.timeout || 20000);
  const workDir = o.workDir || fs.mkdtempSync(path.join(os.tmpdir(), 'openim-interop-'));
  fs.mkdirSync(workDir, { recursive: true });
  const admin = o.adminToken || process.env.OPENIM_ADMIN_TOKEN || (await adminToken(apiAddr, o.secret || 'openIM123'));

  const out = {
    ok: false,
    kinds: { a: kindA, b: kindB, a2: kindA2 },
    users: { a: userA, b: userB },
    platforms: { a: platA, b: platB },
    conversationID: singleConversationID(userA, userB),
    workDir,
    steps: {},
    events: {},
  };
  const agents = {};
  let wasmEnv = null;

  async function makeAgent(kind, name) {
    if (kind === 'wasm') {
      if (!wasmEnv) {
        const { WasmEnv } = await import('./wasm_agent.mjs');
        try {
          wasmEnv = await WasmEnv.start({ logDir: workDir, chromium: o.chromium });
        } catch (e) {
          out.browserUnavailable = errInfo(e);
          throw e;
        }
      }
      return wasmEnv.newAgent(name);
    }
    return spawnProcessAgent(kind, name, { logDir: workDir });
  }

  async function step(name, fn) {
    const t0 = Date.now();
    try {
      const result = await fn();
      out.steps[name] = { ok: true, ms: Date.now() - t0, result };
      return result;
    } catch (e) {
      out.steps[name] = { ok: false, ms: Date.now() - t0, error: errInfo(e) };
      return undefined;
    }
  }

  const loginArgs = (userID, token, platformID, dir) => ({
    userID,
    token,
    platformID,
    apiAddr,
    wsAddr,
    dataDir: path.join(workDir, dir),
  });

  const waitText = (agent, text, sendID) =>
    agent.waitEvent(
      (ev) => ev.event === 'new-messages' && ev.data.some((m) => m.text === text && m.sendID === sendID),
      stepTimeout,
      `push of ${JSON.stringify(text)}`,
    ).then((ev) => ev.data.find((m) => m.text === text && m.sendID === sendID));

  try {
    const nonce = Date.now().toString(36);
    const text1 = `hello B from A ${nonce}`;
    const text2 = `reply A from B ${nonce}`;

    const tokA = o.tokenA || (await mintUserToken(apiAddr, admin, userA, platA));
    const tokB = o.tokenB || (await mintUserToken(apiAddr, admin, userB, platB));
    agents.a = await makeAgent(kindA, 'a');
    agents.b = await makeAgent(kindB, 'b');

    await Promise.all([
      step('login_a', () => agents.a.call('login', loginArgs(userA, tokA, platA, 'a'), stepTimeout)),
      step('login_b', () => agents.b.call('login', loginArgs(userB, tokB, platB, 'b'), stepTimeout)),
    ]);
    if (o.onlyLogin) {
      await sleep(2000); // let late connect/kick events arrive
      out.ok = Object.values(out.steps).every((s) => s.ok);
      return out;
    }
    await Promise.all([
      step('connected_a', () => agents.a.waitEvent((e) => e.event === 'connect-success', stepTimeout, 'connect-success')),
      step('connected_b', () => agents.b.waitEvent((e) => e.event === 'connect-success', stepTimeout, 'connect-success')),
    ]);

    if (out.steps.login_a.ok && out.steps.login_b.ok) {
      const recv1 = waitText(agents.b, text1, userA);
      await step('send_a', () => agents.a.call('send', { recvID: userB, text: text1 }, stepTimeout));
      await step('recv_b', () => recv1);
      const recv2 = waitText(agents.a, text2, userB);
      await step('send_b', () => agents.b.call('send', { recvID: userA, text: text2 }, stepTimeout));
      await step('recv_a', () => recv2);
    }

    // Fresh instance of A on the same platform: new token (policy 1 marks tokA kicked), new data dir.
    const tokA2 = await step('mint_a2', () => mintUserToken(apiAddr, admin, userA, platA));
    if (tokA2) {
      agents.a2 = await makeAgent(kindA2, 'a2');
      await step('login_a2', () => agents.a2.call('login', loginArgs(userA, tokA2, platA, 'a2'), stepTimeout));
      await step('kicked_a', () =>
        agents.a.waitEvent((e) => e.event === 'kicked', stepTimeout, 'kicked event after second login'),
      );
      if (out.steps.login_a2.ok) {
        await step('history_a2', async () => {
          // The Go core may still be syncing right after login: poll until both texts are there.
          const deadline = Date.now() + stepTimeout;
          let last;
          let attempts = 0;
          for (;;) {
            attempts++;
            last = await agents.a2.call('history', { conversationID: out.conversationID, count: 20 }, stepTimeout);
            const texts = last.messages.map((m) => m.text);
            if ((texts.includes(text1) && texts.includes(text2)) || Date.now() > deadline) break;
            await sleep(500);
          }
          return { ...last, attempts };
        });
      }
    }

    out.texts = { a: text1, b: text2 };
    out.ok = Object.values(out.steps).every((s) => s.ok);
  } catch (e) {
    out.ok = false;
    out.fatal = errInfo(e);
  } finally {
    for (const [name, agent] of Object.entries(agents)) {
      out.events[name] = agent.events.map((e) => e.event);
      out.notices = out.notices || {};
      out.notices[name] = agent.events
        .filter((e) => e.event !== 'new-messages')
        .map((e) => ({ event: e.event, data: e.data }));
    }
    await Promise.all(
      Object.values(agents).map((a) => withTimeout(a.close(), 8000, 'close').catch(() => undefined)),
    );
    if (wasmEnv) await wasmEnv.stop().catch(() => undefined);
  }
  return out;
}
