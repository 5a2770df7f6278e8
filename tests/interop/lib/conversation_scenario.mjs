// Conversation scenario for the official Go core (native): one user U logged in twice, device D1 on
// platform 3 (Windows) and D2 on platform 5 (Web) — the default multi-login policy 1 only kicks the
// same platform — plus a peer P. P sends U a text; D1 marks the conversation read, pins it and sets
// its receive option (set_conversation), makes it a private chat, then sets a draft; a fresh device
// D3 (platform 2, empty data dir) logs in; D1 clears the chat and a fresh D4 (platform 4) logs in.
// Recorded: D2's OnTotalUnreadMessageCountChanged / OnConversationChanged (driven by the server's
// notifications to U's other devices), P's OnRecvC2CReadReceipt and private-chat change, the 1701
// tips, D1's own callbacks, the conversation as D2 and D3 (full sync) store it, and the histories
// after the clear.
// Prints one JSON object on stdout; every step is recorded as {ok, ms, result | error}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnProcessAgent } from './agent.mjs';
import { adminToken, errInfo, mintUserToken, scenarioMain, singleConversationID, stepRecorder, withTimeout } from './common.mjs';

const PLATFORM_D1 = 3; // Windows
const PLATFORM_D2 = 5; // Web
const PLATFORM_D3 = 2; // iOS: a fresh device logging in at the end
const PLATFORM_D4 = 4; // Android: a fresh device after the clear
const PLATFORM_P = 3;

export const main = scenarioMain(run);

async function run(o) {
  const apiAddr = o.api;
  const wsAddr = o.ws;
  const u = o.userA;
  const p = o.userB;
  const stepTimeout = Number(o.timeout || 20000);
  const workDir = o.workDir || fs.mkdtempSync(path.join(os.tmpdir(), 'openim-interop-conv-'));
  fs.mkdirSync(workDir, { recursive: true });
  const admin = o.adminToken || (await adminToken(apiAddr, o.secret || 'openIM123'));
  const convID = singleConversationID(u, p);
  const out = { ok: false, users: { u, p }, conversationID: convID, workDir, steps: {}, events: {}, notices: {} };
  const agents = {};

  const step = stepRecorder(out);
  const loginArgs = (userID, token, platformID, dir) => ({
    userID, token, platformID, apiAddr, wsAddr, dataDir: path.join(workDir, dir),
  });
  const invoke = (agent, fn, ...args) => agent.call('invoke', { fn, args }, stepTimeout);
  // the first callback `event` at or after `since` (ms) whose payload satisfies pred
  const on = (agent, event, since, pred, what) =>
    agent.waitEvent((ev) => ev.event === event && ev.t >= since && pred(ev.data), stepTimeout, what)
      .then((ev) => ev.data);
  const changed = (agent, since, pred, what) =>
    on(agent, 'conversation-changed', since, (d) => Array.isArray(d) && d.some((c) => c.conversationID === convID && pred(c)), what)
      .then((d) => d.find((c) => c.conversationID === convID));

  try {
    const tokD1 = await mintUserToken(apiAddr, admin, u, PLATFORM_D1);
    const tokD2 = await mintUserToken(apiAddr, admin, u, PLATFORM_D2);
    const tokP = await mintUserToken(apiAddr, admin, p, PLATFORM_P);
    agents.d1 = spawnProcessAgent('native', 'd1', { logDir: workDir });
    agents.d2 = spawnProcessAgent('native', 'd2', { logDir: workDir });
    agents.p = spawnProcessAgent('native', 'p', { logDir: workDir });
    await Promise.all([
      step('login_d1', () => agents.d1.call('login', loginArgs(u, tokD1, PLATFORM_D1, 'd1'), stepTimeout)),
      step('login_d2', () => agents.d2.call('login', loginArgs(u, tokD2, PLATFORM_D2, 'd2'), stepTimeout)),
      step('login_p', () => agents.p.call('login', loginArgs(p, tokP, PLATFORM_P, 'p'), stepTimeout)),
    ]);
    await Promise.all(['d1', 'd2', 'p'].map((n) =>
      step(`synced_${n}`, () => agents[n].waitEvent((e) => e.event === 'sync-finish', stepTimeout, 'sync-finish'))));

    // P -> U: both of U's devices get the message and one unread
    let t = Date.now();
    const unread1 = ['d1', 'd2'].map((n) => on(agents[n], 'total-unread-changed', t, (d) => Number(d) === 1, `${n} total unread 1`));
    const recv = ['d1', 'd2'].map((n) => agents[n].waitEvent(
      (ev) => ev.event === 'new-messages' && ev.data.some((m) => m.text === 'hello U'), stepTimeout, `${n} recv`,
    ).then((ev) => ev.data.find((m) => m.text === 'hello U')));
    const sent = await step('send_p', () => agents.p.call('send', { recvID: u, text: 'hello U' }, stepTimeout));
    await step('recv_d1', () => recv[0]);
    await step('recv_d2', () => recv[1]);
    await step('unread1_d1', () => unread1[0]);
    await step('unread1_d2', () => unread1[1]);

    // D1 marks the conversation read: D2's unread drops to 0, P gets the read receipt
    t = Date.now();
    const unread0 = on(agents.d2, 'total-unread-changed', t, (d) => Number(d) === 0, 'd2 total unread 0');
    const read0 = changed(agents.d2, t, (c) => c.unreadCount === 0, 'd2 OnConversationChanged unreadCount 0');
    const receipt = on(agents.p, 'recv-c2c-read-receipt', t, (d) => JSON.stringify(d).includes(sent?.clientMsgID ?? '?'), 'p OnRecvC2CReadReceipt');
    await step('mark_read_d1', () => invoke(agents.d1, 'mark_conversation_message_as_read', convID));
    await step('unread0_d2', () => unread0);
    await step('read_changed_d2', () => read0);
    await step('read_receipt_p', () => receipt);

    // D1 pins the conversation, sets its receive option, burn duration and ex (server-side fields)
    t = Date.now();
    const set = (c) => c.isPinned === true && c.recvMsgOpt === 2 && c.burnDuration === 45 && c.ex === 'from d1';
    const setD2 = changed(agents.d2, t, set, 'd2 OnConversationChanged pinned/recvMsgOpt');
    const setD1 = changed(agents.d1, t, set, 'd1 OnConversationChanged pinned/recvMsgOpt');
    await step('set_conversation_d1', () =>
      invoke(agents.d1, 'set_conversation', convID, { conversationID: convID, isPinned: true, recvMsgOpt: 2, burnDuration: 45, ex: 'from d1' }));
    await step('set_changed_d1', () => setD1);
    await step('set_changed_d2', () => setD2);
    await step('conversation_d2', () => invoke(agents.d2, 'get_one_conversation', 1, p));

    // D1 makes the chat private: upstream sets isPrivateChat on both owners' conversations and sends
    // the 1701 notification (isSendMsg: a tip with a seq in the si_ conversation) to U and to P
    t = Date.now();
    const priv = (c) => c.isPrivateChat === true;
    const privD2 = changed(agents.d2, t, priv, 'd2 OnConversationChanged isPrivateChat');
    const privP = changed(agents.p, t, priv, 'p OnConversationChanged isPrivateChat');
    const tip1701 = (n) => agents[n].waitEvent(
      (ev) => ev.event === 'new-messages' && ev.t >= t && ev.data.some((m) => m.contentType === 1701), stepTimeout, `${n} 1701 tip`,
    ).then((ev) => ev.data.find((m) => m.contentType === 1701));
    const privTips = ['d1', 'd2', 'p'].map(tip1701);
    await step('private_d1', () => invoke(agents.d1, 'set_conversation', convID, { conversationID: convID, isPrivateChat: true }));
    await step('private_changed_d2', () => privD2);
    await step('private_changed_p', () => privP);
    await step('private_tip_d1', () => privTips[0]);
    await step('private_tip_d2', () => privTips[1]);
    await step('private_tip_p', () => privTips[2]);
    await step('history_p', () => agents.p.call('history', { conversationID: convID, count: 20 }, stepTimeout));

    // D1 sets a draft: a local field of the core (set_conversation_draft does not reach the server)
    t = Date.now();
    const draftD1 = changed(agents.d1, t, (c) => c.draftText === 'draft on d1', 'd1 OnConversationChanged draft');
    await step('draft_d1', () => invoke(agents.d1, 'set_conversation_draft', convID, 'draft on d1'));
    await step('draft_changed_d1', () => draftD1);

    // A fresh device D3 (empty data dir) logs in last: its full sync must give the same state
    const tokD3 = await mintUserToken(apiAddr, admin, u, PLATFORM_D3);
    agents.d3 = spawnProcessAgent('native', 'd3', { logDir: workDir });
    await step('login_d3', () => agents.d3.call('login', loginArgs(u, tokD3, PLATFORM_D3, 'd3'), stepTimeout));
    await step('synced_d3', () => agents.d3.waitEvent((e) => e.event === 'sync-finish', stepTimeout, 'sync-finish'));
    await step('conversation_d3', () => invoke(agents.d3, 'get_one_conversation', 1, p));
    await step('total_unread_d3', () => invoke(agents.d3, 'get_total_unread_msg_count'));
    await step('history_d3', () => agents.d3.call('history', { conversationID: convID, count: 20 }, stepTimeout));

    // D1 clears the conversation (clear_conversation_and_delete_all_msg: /msg/clear_conversation_msg
    // without deleteSyncOpt, so upstream notifies no other device and only moves U's minSeq past
    // the end): a fresh device D4 (platform 4) must find no history; P keeps both messages
    await step('clear_d1', () => invoke(agents.d1, 'clear_conversation_and_delete_all_msg', convID));
    await step('history_after_clear_d1', () => agents.d1.call('history', { conversationID: convID, count: 20 }, stepTimeout));
    const tokD4 = await mintUserToken(apiAddr, admin, u, PLATFORM_D4);
    agents.d4 = spawnProcessAgent('native', 'd4', { logDir: workDir });
    await step('login_d4', () => agents.d4.call('login', loginArgs(u, tokD4, PLATFORM_D4, 'd4'), stepTimeout));
    await step('synced_d4', () => agents.d4.waitEvent((e) => e.event === 'sync-finish', stepTimeout, 'sync-finish'));
    await step('history_after_clear_d4', () => agents.d4.call('history', { conversationID: convID, count: 20 }, stepTimeout));
    await step('history_after_clear_p', () => agents.p.call('history', { conversationID: convID, count: 20 }, stepTimeout));
    out.ok = Object.values(out.steps).every((s) => s.ok);
  } catch (e) {
    out.ok = false;
    out.fatal = errInfo(e);
  } finally {
    for (const [name, agent] of Object.entries(agents)) {
      out.events[name] = agent.events.map((e) => e.event);
      out.notices[name] = agent.events.filter((e) => e.event !== 'new-messages').map((e) => ({ event: e.event, data: e.data }));
    }
    await Promise.all(Object.values(agents).map((ag) => withTimeout(ag.close(), 8000, 'close').catch(() => undefined)));
  }
  return out;
}
