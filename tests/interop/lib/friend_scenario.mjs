// Friend scenario for the official Go core (native) on both sides. A and B log in (A twice: A on
// platform 3 acts, A2 on platform 5 only listens, so what A2 reports comes from the server's
// notifications, not from the acting core's own sync after its call); A applies to B
// (add_friend with a request message), B accepts; A sets a remark on B, blacklists and un-blacklists
// B and deletes B; then B applies to A and A refuses. All actions go through the official core's
// own API (add_friend, accept_friend_application, update_friends, add_black, remove_black,
// delete_friend, refuse_friend_application), so the server sees exactly what a real client sends.
// Recorded: both sides' friend-listener callbacks, the new single-chat conversation and the
// "friend application approved" tip (1201) each side receives, all messages each side received
// (the timeline), and both friend lists.
// Prints one JSON object on stdout; every step is recorded as {ok, ms, result | error}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnProcessAgent } from './agent.mjs';
import { adminToken, errInfo, mintUserToken, scenarioMain, singleConversationID, stepRecorder, withTimeout } from './common.mjs';

const PLATFORM = 3; // Windows, like the Electron SDK
const PLATFORM_A2 = 5; // Web: the default multi-login policy 1 keeps A's platform-3 session

export const main = scenarioMain(run);

async function run(o) {
  const apiAddr = o.api;
  const wsAddr = o.ws;
  const a = o.userA;
  const b = o.userB;
  const stepTimeout = Number(o.timeout || 20000);
  const workDir = o.workDir || fs.mkdtempSync(path.join(os.tmpdir(), 'openim-interop-friend-'));
  fs.mkdirSync(workDir, { recursive: true });
  const admin = o.adminToken || (await adminToken(apiAddr, o.secret || 'openIM123'));
  const convID = singleConversationID(a, b);
  const out = { ok: false, users: { a, b }, conversationID: convID, workDir, steps: {}, events: {}, notices: {}, messages: {} };
  const agents = {};

  const step = stepRecorder(out);
  const loginArgs = (userID, token, dir, platformID = PLATFORM) => ({
    userID, token, platformID, apiAddr, wsAddr, dataDir: path.join(workDir, dir),
  });
  const invoke = (agent, fn, ...args) => agent.call('invoke', { fn, args }, stepTimeout);
  // the first listener callback `event` whose payload satisfies pred (payload of earlier steps included)
  const on = (agent, event, pred, what) =>
    agent.waitEvent((ev) => ev.event === event && pred(ev.data), stepTimeout, what).then((ev) => ev.data);
  const tip = (agent, contentType, what) =>
    agent.waitEvent(
      (ev) => ev.event === 'new-messages' && ev.data.some((m) => m.contentType === contentType),
      stepTimeout, what,
    ).then((ev) => ev.data.find((m) => m.contentType === contentType));
  const newConversation = (agent, what) =>
    on(agent, 'new-conversation', (d) => Array.isArray(d) && d.some((c) => c.conversationID === convID), what)
      .then((d) => d.find((c) => c.conversationID === convID));

  try {
    const tokA = await mintUserToken(apiAddr, admin, a, PLATFORM);
    const tokA2 = await mintUserToken(apiAddr, admin, a, PLATFORM_A2);
    const tokB = await mintUserToken(apiAddr, admin, b, PLATFORM);
    agents.a = spawnProcessAgent('native', 'a', { logDir: workDir });
    agents.a2 = spawnProcessAgent('native', 'a2', { logDir: workDir });
    agents.b = spawnProcessAgent('native', 'b', { logDir: workDir });
    await Promise.all([
      step('login_a', () => agents.a.call('login', loginArgs(a, tokA, 'a'), stepTimeout)),
      step('login_a2', () => agents.a2.call('login', loginArgs(a, tokA2, 'a2', PLATFORM_A2), stepTimeout)),
      step('login_b', () => agents.b.call('login', loginArgs(b, tokB, 'b'), stepTimeout)),
    ]);
    await Promise.all(['a', 'a2', 'b'].map((n) =>
      step(`synced_${n}`, () => agents[n].waitEvent((e) => e.event === 'sync-finish', stepTimeout, 'sync-finish'))));

    // 1. A applies to B
    const isAtoB = (d) => d && d.fromUserID === a && d.toUserID === b;
    const appAddedB = on(agents.b, 'friend-application-added', isAtoB, 'B OnFriendApplicationAdded');
    const appAddedA = on(agents.a, 'friend-application-added', isAtoB, 'A OnFriendApplicationAdded');
    const appAddedA2 = on(agents.a2, 'friend-application-added', isAtoB, 'A2 OnFriendApplicationAdded');
    await step('apply', () => invoke(agents.a, 'add_friend', { toUserID: b, reqMsg: 'hello from A' }));
    await step('app_added_b', () => appAddedB);
    await step('app_added_a', () => appAddedA);
    await step('app_added_a2', () => appAddedA2);
    await step('recipient_list_b', () => invoke(agents.b, 'get_friend_application_list_as_recipient', { handleResults: [], offset: 0, count: 20 }));

    // 2. B accepts
    const acceptedA = on(agents.a, 'friend-application-accepted', isAtoB, 'A OnFriendApplicationAccepted');
    const acceptedB = on(agents.b, 'friend-application-accepted', isAtoB, 'B OnFriendApplicationAccepted');
    const friendAddedA = on(agents.a, 'friend-added', (d) => d && d.userID === b, 'A OnFriendAdded');
    const friendAddedB = on(agents.b, 'friend-added', (d) => d && d.userID === a, 'B OnFriendAdded');
    const friendAddedA2 = on(agents.a2, 'friend-added', (d) => d && d.userID === b, 'A2 OnFriendAdded');
    const convA = newConversation(agents.a, 'A OnNewConversation');
    const convB = newConversation(agents.b, 'B OnNewConversation');
    const tipA = tip(agents.a, 1201, 'A FriendApplicationApproved tip');
    const tipB = tip(agents.b, 1201, 'B FriendApplicationApproved tip');
    await step('accept', () => invoke(agents.b, 'accept_friend_application', { toUserID: a, handleMsg: 'welcome' }));
    await step('accepted_a', () => acceptedA);
    await step('accepted_b', () => acceptedB);
    await step('friend_added_a', () => friendAddedA);
    await step('friend_added_b', () => friendAddedB);
    await step('friend_added_a2', () => friendAddedA2);
    await step('new_conversation_a', () => convA);
    await step('new_conversation_b', () => convB);
    await step('tip_approved_a', () => tipA);
    await step('tip_approved_b', () => tipB);
    await step('friends_a', () => invoke(agents.a, 'get_friend_list', 0));
    await step('friends_b', () => invoke(agents.b, 'get_friend_list', 0));
    await step('conversations_a', () => invoke(agents.a, 'get_all_conversation_list'));
    await step('history_a', () => agents.a.call('history', { conversationID: convID, count: 20 }, stepTimeout));

    // 3. A sets a remark on B
    const isRemark = (d) => d && d.userID === b && d.remark === 'Bee';
    const infoChanged = on(agents.a, 'friend-info-changed', isRemark, 'A OnFriendInfoChanged');
    const infoChangedA2 = on(agents.a2, 'friend-info-changed', isRemark, 'A2 OnFriendInfoChanged');
    await step('remark', () => invoke(agents.a, 'update_friends', { friendUserIDs: [b], remark: 'Bee' }));
    await step('friend_info_changed_a', () => infoChanged);
    await step('friend_info_changed_a2', () => infoChangedA2);

    // 4. A blacklists B, then removes B from the blacklist
    const isBlackB = (d) => d && d.ownerUserID === a && d.userID === b;
    const blackAdded = on(agents.a, 'black-added', isBlackB, 'A OnBlackAdded');
    const blackAddedA2 = on(agents.a2, 'black-added', isBlackB, 'A2 OnBlackAdded');
    await step('black_add', () => invoke(agents.a, 'add_black', b, ''));
    await step('black_added_a', () => blackAdded);
    await step('black_added_a2', () => blackAddedA2);
    await step('blacks_a', () => invoke(agents.a, 'get_black_list'));
    // B writes to A while blocked: the send must fail with the server's error (1302 upstream)
    await step('send_blocked_b', async () => {
      try {
        return { sent: await agents.b.call('send', { recvID: a, text: 'blocked?' }, stepTimeout) };
      } catch (e) {
        return { refused: e };
      }
    });
    const blackDeleted = on(agents.a, 'black-deleted', isBlackB, 'A OnBlackDeleted');
    const blackDeletedA2 = on(agents.a2, 'black-deleted', isBlackB, 'A2 OnBlackDeleted');
    await step('black_remove', () => invoke(agents.a, 'remove_black', b));
    await step('black_deleted_a', () => blackDeleted);
    await step('black_deleted_a2', () => blackDeletedA2);

    // 5. A deletes B (one-way: only A's side loses the friend)
    const deleted = on(agents.a, 'friend-deleted', (d) => d && d.userID === b, 'A OnFriendDeleted');
    const deletedA2 = on(agents.a2, 'friend-deleted', (d) => d && d.userID === b, 'A2 OnFriendDeleted');
    await step('delete', () => invoke(agents.a, 'delete_friend', b));
    await step('friend_deleted_a', () => deleted);
    await step('friend_deleted_a2', () => deletedA2);
    await step('friends_a_after_delete', () => invoke(agents.a, 'get_friend_list', 0));
    await step('friends_b_after_delete', () => invoke(agents.b, 'get_friend_list', 0));

    // 6. B applies to A, A refuses
    const isBtoA = (d) => d && d.fromUserID === b && d.toUserID === a;
    const appBackA = on(agents.a, 'friend-application-added', isBtoA, 'A OnFriendApplicationAdded (from B)');
    const rejectedB = on(agents.b, 'friend-application-rejected', isBtoA, 'B OnFriendApplicationRejected');
    const rejectedA = on(agents.a, 'friend-application-rejected', isBtoA, 'A OnFriendApplicationRejected');
    await step('apply_back', () => invoke(agents.b, 'add_friend', { toUserID: a, reqMsg: 'again?' }));
    await step('app_back_a', () => appBackA);
    await step('refuse', () => invoke(agents.a, 'refuse_friend_application', { toUserID: b, handleMsg: 'no thanks' }));
    await step('rejected_b', () => rejectedB);
    await step('rejected_a', () => rejectedA);

    // 7. A fresh device of B (empty data dir, platform 5) logs in: its full sync of friends,
    // applications and conversations must give the same state
    const tokB2 = await mintUserToken(apiAddr, admin, b, PLATFORM_A2);
    agents.b2 = spawnProcessAgent('native', 'b2', { logDir: workDir });
    await step('login_b2', () => agents.b2.call('login', loginArgs(b, tokB2, 'b2', PLATFORM_A2), stepTimeout));
    await step('synced_b2', () => agents.b2.waitEvent((e) => e.event === 'sync-finish', stepTimeout, 'sync-finish'));
    await step('friends_b2', () => invoke(agents.b2, 'get_friend_list', 0));
    await step('recipient_list_b2', () => invoke(agents.b2, 'get_friend_application_list_as_recipient', { handleResults: [], offset: 0, count: 20 }));
    await step('applicant_list_b2', () => invoke(agents.b2, 'get_friend_application_list_as_applicant', { offset: 0, count: 20 }));
    await step('conversations_b2', () => invoke(agents.b2, 'get_all_conversation_list'));
    await step('history_b2', () => agents.b2.call('history', { conversationID: convID, count: 20 }, stepTimeout));
    out.ok = Object.values(out.steps).every((s) => s.ok);
  } catch (e) {
    out.ok = false;
    out.fatal = errInfo(e);
  } finally {
    for (const [name, agent] of Object.entries(agents)) {
      out.events[name] = agent.events.map((e) => e.event);
      out.notices[name] = agent.events.filter((e) => e.event !== 'new-messages').map((e) => ({ event: e.event, data: e.data }));
      out.messages[name] = agent.events.filter((e) => e.event === 'new-messages').flatMap((e) => e.data);
    }
    await Promise.all(Object.values(agents).map((ag) => withTimeout(ag.close(), 8000, 'close').catch(() => undefined)));
  }
  return out;
}
