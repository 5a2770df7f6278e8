// Offline catch-up for the official Go core (native): changes made while a device is logged out
// must reach it through its incremental sync at the next login (same data dir, so the core has a
// local state and versions to sync from). A (platform 3), A's second device A2 (platform 5) and B
// log in; A applies to B; A and A2 log out; B accepts and sends A a text; A logs in again; A pins
// the chat; A2 logs in again. Recorded: what A and A2 report after their re-login (callbacks,
// friend list, conversation, history).
// Prints one JSON object on stdout; every step is recorded as {ok, ms, result | error}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnProcessAgent } from './agent.mjs';
import { adminToken, errInfo, mintUserToken, scenarioMain, singleConversationID, stepRecorder, withTimeout } from './common.mjs';

const PLATFORM = 3;
const PLATFORM_A2 = 5;

export const main = scenarioMain(run);

async function run(o) {
  const apiAddr = o.api;
  const wsAddr = o.ws;
  const a = o.userA;
  const b = o.userB;
  const stepTimeout = Number(o.timeout || 20000);
  const workDir = o.workDir || fs.mkdtempSync(path.join(os.tmpdir(), 'openim-interop-offline-'));
  fs.mkdirSync(workDir, { recursive: true });
  const admin = o.adminToken || (await adminToken(apiAddr, o.secret || 'openIM123'));
  const convID = singleConversationID(a, b);
  const out = { ok: false, users: { a, b }, conversationID: convID, workDir, steps: {}, events: {}, notices: {} };
  const agents = {};
  const finished = {};

  const step = stepRecorder(out);
  const invoke = (agent, fn, ...args) => agent.call('invoke', { fn, args }, stepTimeout);
  const on = (agent, event, pred, what) =>
    agent.waitEvent((ev) => ev.event === event && pred(ev.data), stepTimeout, what).then((ev) => ev.data);
  // start (or restart, same data dir `dir`) an instance `name` of `userID` and wait for its first sync
  async function start(name, userID, platformID, dir) {
    const token = await mintUserToken(apiAddr, admin, userID, platformID);
    agents[name] = spawnProcessAgent('native', name, { logDir: workDir });
    await step(`login_${name}`, () => agents[name].call('login', {
      userID, token, platformID, apiAddr, wsAddr, dataDir: path.join(workDir, dir),
    }, stepTimeout));
    await step(`synced_${name}`, () => agents[name].waitEvent((e) => e.event === 'sync-finish', stepTimeout, 'sync-finish'));
  }
  async function stop(name) {
    await withTimeout(agents[name].close(), 8000, `close ${name}`).catch(() => undefined);
    finished[name] = agents[name];
    delete agents[name];
  }

  try {
    await Promise.all([start('a', a, PLATFORM, 'a'), start('a2', a, PLATFORM_A2, 'a2'), start('b', b, PLATFORM, 'b')]);
    const added = on(agents.b, 'friend-application-added', (d) => d && d.fromUserID === a, 'B OnFriendApplicationAdded');
    await step('apply', () => invoke(agents.a, 'add_friend', { toUserID: b, reqMsg: 'hi' }));
    await step('app_added_b', () => added);
    await step('app_added_a2', () => on(agents.a2, 'friend-application-added', (d) => d && d.fromUserID === a, 'A2 OnFriendApplicationAdded'));
    await stop('a');
    await stop('a2');

    // while A is away: B accepts and writes
    const friendB = on(agents.b, 'friend-added', (d) => d && d.userID === a, 'B OnFriendAdded');
    await step('accept', () => invoke(agents.b, 'accept_friend_application', { toUserID: a, handleMsg: 'ok' }));
    await step('friend_added_b', () => friendB);
    await step('send_b', () => agents.b.call('send', { recvID: a, text: 'while you were away' }, stepTimeout));

    // A comes back (same data dir): its incremental sync must bring the friend, the chat and both messages
    await start('a_back', a, PLATFORM, 'a');
    await step('friend_added_a_back', () => on(agents.a_back, 'friend-added', (d) => d && d.userID === b, 'A OnFriendAdded after re-login'));
    await step('friends_a_back', () => invoke(agents.a_back, 'get_friend_list', 0));
    await step('conversation_a_back', () => invoke(agents.a_back, 'get_one_conversation', 1, b));
    await step('history_a_back', () => agents.a_back.call('history', { conversationID: convID, count: 20 }, stepTimeout));

    // A pins the chat while A2 is away; A2 comes back (same data dir)
    await step('pin_a_back', () => invoke(agents.a_back, 'set_conversation', convID, { conversationID: convID, isPinned: true }));
    await start('a2_back', a, PLATFORM_A2, 'a2');
    await step('friend_added_a2_back', () => on(agents.a2_back, 'friend-added', (d) => d && d.userID === b, 'A2 OnFriendAdded after re-login'));
    await step('friends_a2_back', () => invoke(agents.a2_back, 'get_friend_list', 0));
    await step('conversation_a2_back', () => invoke(agents.a2_back, 'get_one_conversation', 1, b));
    await step('history_a2_back', () => agents.a2_back.call('history', { conversationID: convID, count: 20 }, stepTimeout));
    await step('total_unread_a2_back', () => invoke(agents.a2_back, 'get_total_unread_msg_count'));
    out.ok = Object.values(out.steps).every((s) => s.ok);
  } catch (e) {
    out.ok = false;
    out.fatal = errInfo(e);
  } finally {
    for (const [name, agent] of [...Object.entries(finished), ...Object.entries(agents)]) {
      out.events[name] = agent.events.map((e) => e.event);
      out.notices[name] = agent.events.filter((e) => e.event !== 'new-messages').map((e) => ({ event: e.event, data: e.data }));
    }
    await Promise.all(Object.values(agents).map((ag) => withTimeout(ag.close(), 8000, 'close').catch(() => undefined)));
  }
  return out;
}
