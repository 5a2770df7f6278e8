// Group scenario for the official Go core (native): the owner O and the member M log in; O creates a
// group with M (REST, O's token), renames it, mutes and unmutes M, then dismisses it. Recorded: M's
// group-listener callbacks (OnJoinedGroupAdded, OnGroupInfoChanged, OnGroupDismissed), the
// notification tips M receives as messages of the group conversation, and M's stored history of
// that conversation after a fresh login (tips with seqs, as open-im-server stores isSendMsg types).
// Prints one JSON object on stdout; every step is recorded as {ok, ms, result | error}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnProcessAgent } from './agent.mjs';
import { adminToken, errInfo, mintUserToken, parseArgs, restCall, sleep, withTimeout } from './common.mjs';

const PLATFORM = 3; // Windows, like the Electron SDK

export async function main(argv) {
  const o = parseArgs(argv);
  const out = await run(o).catch((e) => ({ ok: false, fatal: errInfo(e) }));
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

async function rest(apiAddr, pathName, body, token) {
  const env = await restCall(apiAddr, pathName, body, token);
  if (env.errCode !== 0) throw new Error(`${pathName}: ${JSON.stringify(env)}`);
  return env.data;
}

async function run(o) {
  const apiAddr = o.api;
  const wsAddr = o.ws;
  const owner = o.userA;
  const member = o.userB;
  const stepTimeout = Number(o.timeout || 20000);
  const workDir = o.workDir || fs.mkdtempSync(path.join(os.tmpdir(), 'openim-interop-group-'));
  fs.mkdirSync(workDir, { recursive: true });
  const admin = o.adminToken || (await adminToken(apiAddr, o.secret || 'openIM123'));
  const groupID = `ig${Date.now().toString(36)}`;
  const out = { ok: false, users: { o: owner, m: member }, groupID, workDir, steps: {}, events: {}, notices: {} };
  const agents = {};

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
  const loginArgs = (userID, token, dir) => ({
    userID, token, platformID: PLATFORM, apiAddr, wsAddr, dataDir: path.join(workDir, dir),
  });
  const tip = (agent, contentType, what) =>
    agent.waitEvent(
      (ev) => ev.event === 'new-messages' && ev.data.some((m) => m.contentType === contentType && m.groupID === groupID),
      stepTimeout, what,
    ).then((ev) => ev.data.find((m) => m.contentType === contentType && m.groupID === groupID));
  const callback = (agent, event, what) =>
    agent.waitEvent((ev) => ev.event === event && JSON.stringify(ev.data).includes(groupID), stepTimeout, what)
      .then((ev) => ev.data);

  try {
    const tokO = await mintUserToken(apiAddr, admin, owner, PLATFORM);
    const tokM = await mintUserToken(apiAddr, admin, member, PLATFORM);
    agents.o = spawnProcessAgent('native', 'o', { logDir: workDir });
    agents.m = spawnProcessAgent('native', 'm', { logDir: workDir });
    await Promise.all([
      step('login_o', () => agents.o.call('login', loginArgs(owner, tokO, 'o'), stepTimeout)),
      step('login_m', () => agents.m.call('login', loginArgs(member, tokM, 'm'), stepTimeout)),
    ]);
    await Promise.all([
      step('connected_o', () => agents.o.waitEvent((e) => e.event === 'connect-success', stepTimeout, 'connect')),
      step('connected_m', () => agents.m.waitEvent((e) => e.event === 'sync-finish', stepTimeout, 'sync-finish')),
    ]);

    const added = callback(agents.m, 'joined-group-added', 'OnJoinedGroupAdded');
    const created = tip(agents.m, 1501, 'GroupCreated tip');
    await step('create', () => rest(apiAddr, '/group/create_group', {
      ownerUserID: owner, memberUserIDs: [member], groupInfo: { groupID, groupName: 'interop', groupType: 2 },
    }, tokO));
    await step('joined_group_added', () => added);
    await step('tip_created', () => created);

    const changed = callback(agents.m, 'group-info-changed', 'OnGroupInfoChanged');
    const renamed = tip(agents.m, 1520, 'GroupInfoSetName tip');
    await step('rename', () => rest(apiAddr, '/group/set_group_info_ex', { groupID, groupName: 'renamed' }, tokO));
    await step('group_info_changed', () => changed);
    await step('tip_renamed', () => renamed);

    const muted = tip(agents.m, 1512, 'GroupMemberMuted tip');
    await step('mute', () => rest(apiAddr, '/group/mute_group_member', { groupID, userID: member, mutedSeconds: 60 }, tokO));
    await step('tip_muted', () => muted);

    const dismissed = callback(agents.m, 'group-dismissed', 'OnGroupDismissed');
    const dismissTip = tip(agents.m, 1511, 'GroupDismissed tip');
    await step('dismiss', () => rest(apiAddr, '/group/dismiss_group', { groupID }, tokO));
    await step('group_dismissed', () => dismissed);
    await step('tip_dismissed', () => dismissTip);

    // A fresh instance of M (empty data dir) pulls the group history by seq.
    await withTimeout(agents.m.close(), 8000, 'close m').catch(() => undefined);
    out.events.m = agents.m.events.map((e) => e.event);
    out.notices.m = agents.m.events.filter((e) => e.event !== 'new-messages').map((e) => ({ event: e.event, data: e.data }));
    delete agents.m;
    const tokM2 = await mintUserToken(apiAddr, admin, member, PLATFORM);
    agents.m2 = spawnProcessAgent('native', 'm2', { logDir: workDir });
    await step('login_m2', () => agents.m2.call('login', loginArgs(member, tokM2, 'm2'), stepTimeout));
    await step('history_m2', async () => {
      const deadline = Date.now() + stepTimeout;
      let last;
      for (;;) {
        last = await agents.m2.call('history', { conversationID: `sg_${groupID}`, count: 50 }, stepTimeout);
        if (last.messages.some((m) => m.contentType === 1511) || Date.now() > deadline) break;
        await sleep(500);
      }
      return last;
    });
    out.ok = Object.values(out.steps).every((s) => s.ok);
  } catch (e) {
    out.ok = false;
    out.fatal = errInfo(e);
  } finally {
    for (const [name, agent] of Object.entries(agents)) {
      out.events[name] = agent.events.map((e) => e.event);
      out.notices[name] = agent.events.filter((e) => e.event !== 'new-messages').map((e) => ({ event: e.event, data: e.data }));
    }
    await Promise.all(Object.values(agents).map((a) => withTimeout(a.close(), 8000, 'close').catch(() => undefined)));
  }
  return out;
}
