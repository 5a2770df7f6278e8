// Browser side of a wasm agent: one @openim/wasm-client-sdk instance per page (the SDK is a
// per-window singleton). Node drives it through window.harness via playwright; SDK events go
// back through window.__emit (exposed by wasm_agent.mjs).
import { CbEvents, getSDK } from '/node_modules/@openim/wasm-client-sdk/lib/index.es.js';
import { messagesOf, slimMessage } from '/lib/messages.mjs';

const ASSETS = '/node_modules/@openim/wasm-client-sdk/assets';
const sdk = getSDK({ coreWasmPath: `${ASSETS}/openIM.wasm`, sqlWasmPath: `${ASSETS}/sql-wasm.wasm`, debug: false });

const emit = (event, data) => {
  try {
    if (window.__emit) window.__emit(event, data);
  } catch {
    /* ignore */
  }
};

const forward = {
  [CbEvents.OnConnecting]: 'connecting',
  [CbEvents.OnConnectSuccess]: 'connect-success',
  [CbEvents.OnConnectFailed]: 'connect-failed',
  [CbEvents.OnKickedOffline]: 'kicked',
  [CbEvents.OnUserTokenExpired]: 'token-expired',
  [CbEvents.OnUserTokenInvalid]: 'token-invalid',
  [CbEvents.OnSyncServerStart]: 'sync-start',
  [CbEvents.OnSyncServerFinish]: 'sync-finish',
  [CbEvents.OnSyncServerFailed]: 'sync-failed',
};
for (const [ev, name] of Object.entries(forward)) {
  sdk.on(ev, (resp) => emit(name, { errCode: resp?.errCode ?? 0, errMsg: resp?.errMsg ?? '' }));
}
for (const ev of [CbEvents.OnRecvNewMessage, CbEvents.OnRecvNewMessages]) {
  sdk.on(ev, (resp) => {
    const msgs = messagesOf(resp?.data).map(slimMessage);
    if (msgs.length) emit('new-messages', msgs);
  });
}

const plain = (e) => {
  if (e instanceof Error) return { message: e.message };
  if (e && typeof e === 'object') return { errCode: e.errCode, errMsg: e.errMsg, event: e.event, data: e.data };
  return { message: String(e) };
};

async function guard(fn) {
  try {
    return { ok: true, result: await fn() };
  } catch (e) {
    return { ok: false, error: plain(e) };
  }
}

window.harness = {
  login: ({ userID, token, platformID, apiAddr, wsAddr }) =>
    guard(async () => {
      const res = await sdk.login({ userID, token, platformID: Number(platformID), apiAddr, wsAddr, logLevel: 5 });
      return { errCode: res?.errCode ?? 0, crossOriginIsolated: window.crossOriginIsolated };
    }),
  send: ({ recvID, text }) =>
    guard(async () => {
      const created = await sdk.createTextMessage(text);
      const res = await sdk.sendMessage({ recvID, groupID: '', message: created.data });
      return slimMessage(res.data);
    }),
  history: ({ conversationID, count = 20 }) =>
    guard(async () => {
      const res = await sdk.getAdvancedHistoryMessageList({
        conversationID,
        count,
        startClientMsgID: '',
        lastMinSeq: 0,
        viewType: 0,
      });
      const d = res.data || {};
      return { isEnd: d.isEnd, messages: messagesOf(d).map(slimMessage) };
    }),
  logout: () =>
    guard(async () => {
      await sdk.logout();
      return { errCode: 0 };
    }),
};
document.getElementById('status').textContent = 'ready';
window.harnessReady = true;
