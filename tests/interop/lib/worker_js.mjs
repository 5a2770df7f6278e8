// Agent worker for @openim/client-sdk (pure JS SDK, JSON envelopes, sdkType=js).
// Node 20 needs --experimental-websocket for the global WebSocket the SDK uses.
import { getSDK, CbEvents } from '@openim/client-sdk';
import { messagesOf, slimMessage } from './common.mjs';
import { runWorker } from './worker_base.mjs';

const sdk = getSDK();
const impl = {};

const forward = {
  [CbEvents.OnConnecting]: 'connecting',
  [CbEvents.OnConnectSuccess]: 'connect-success',
  [CbEvents.OnConnectFailed]: 'connect-failed',
  [CbEvents.OnKickedOffline]: 'kicked',
  [CbEvents.OnUserTokenExpired]: 'token-expired',
  [CbEvents.OnUserTokenInvalid]: 'token-invalid',
};
for (const [ev, name] of Object.entries(forward)) {
  sdk.on(ev, (resp) => impl.emit(name, { errCode: resp?.errCode, errMsg: resp?.errMsg }));
}
for (const ev of [CbEvents.OnRecvNewMessage, CbEvents.OnRecvNewMessages]) {
  sdk.on(ev, (resp) => {
    const msgs = messagesOf(resp?.data).map(slimMessage);
    if (msgs.length) impl.emit('new-messages', msgs);
  });
}

impl.login = async ({ userID, token, platformID, apiAddr, wsAddr }) => {
  const res = await sdk.login({ userID, token, platformID: Number(platformID), apiAddr, wsAddr, logLevel: 5 });
  return { errCode: res?.errCode ?? 0 };
};

impl.send = async ({ recvID, text }) => {
  const created = await sdk.createTextMessage(text);
  const res = await sdk.sendMessage({ recvID, groupID: '', message: created.data });
  return slimMessage(res.data);
};

impl.history = async ({ conversationID, count = 20 }) => {
  const res = await sdk.getAdvancedHistoryMessageList({ conversationID, count, startClientMsgID: '', viewType: 0 });
  const d = res.data || {};
  return { isEnd: d.isEnd, messages: messagesOf(d).map(slimMessage) };
};

impl.logout = async () => {
  const res = await sdk.logout();
  return { errCode: res?.errCode ?? 0 };
};

impl.shutdown = async () => {
  try {
    await sdk.logout();
  } catch {
    /* ignore */
  }
};

runWorker(impl);
