// An official client (js | native) logged in as one user that answers every text from a peer
// with "echo: <text>", until it has answered --count messages. Prints one JSON report on stdout.
//   node echo_peer.mjs --kind native --api URL --ws URL --user U --token T --peer P --count N
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnProcessAgent } from './lib/agent.mjs';
import { errInfo, parseArgs } from './lib/common.mjs';

const PLATFORM = { js: 5, native: 3 };

async function run(o) {
  const kind = o.kind || 'js';
  const timeout = Number(o.timeout || 30000);
  const count = Number(o.count || 1);
  const workDir = o.workDir || fs.mkdtempSync(path.join(os.tmpdir(), 'openim-echo-'));
  fs.mkdirSync(workDir, { recursive: true });
  const agent = spawnProcessAgent(kind, 'echo', { logDir: workDir });
  const out = { ok: false, kind, received: [], replies: [], workDir };
  try {
    await agent.call('login', {
      userID: o.user, token: o.token, platformID: Number(o.platform || PLATFORM[kind]),
      apiAddr: o.api, wsAddr: o.ws, dataDir: path.join(workDir, 'data'),
    }, timeout);
    await agent.waitEvent((e) => e.event === 'connect-success', timeout, 'connect-success');
    process.stderr.write('READY\n');
    let seen = 0;
    while (out.received.length < count) {
      const ev = await agent.waitEvent(
        (e) => e.event === 'new-messages' && agent.events.indexOf(e) >= seen
          && e.data.some((m) => m.sendID === o.peer && m.text),
        timeout, `message from ${o.peer}`);
      seen = agent.events.indexOf(ev) + 1;
      for (const m of ev.data.filter((x) => x.sendID === o.peer && x.text)) {
        out.received.push(m);
        out.replies.push(await agent.call('send', { recvID: o.peer, text: `echo: ${m.text}` }, timeout));
      }
    }
    out.ok = true;
  } catch (e) {
    out.error = errInfo(e);
  } finally {
    await agent.close();
  }
  return out;
}

const out = await run(parseArgs(process.argv.slice(2)));
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(0);
