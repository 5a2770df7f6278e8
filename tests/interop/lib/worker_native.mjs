// Agent worker for the Go SDK core (libopenimsdk.so from @openim/electron-client-sdk), loaded
// with koffi from plain Node. Speaks gob + gzip on the wire, like every native/wasm OpenIM client.
//
// C API (same prototypes as the Electron SDK's lib/index.js registers):
//   uint8 init_sdk(listenerCb*, char* operationID, char* configJSON)
//   void  set_*_listener(listenerCb*)          listenerCb = void(int event, char* data)
//   void  login(baseCb*, char* opID, char* userID, char* token)
//   char* create_text_message(char* opID, char* text)
//   void  send_message(sendMsgCb*, opID, msgJSON, recvID, groupID, offlinePushInfoJSON, int isOnlineOnly)
//   void  get_advanced_history_message_list(baseCb*, opID, paramsJSON)
//   void  logout(baseCb*, opID)
//   baseCb = void(char* opID, int errCode, char* errMsg, char* data); sendMsgCb adds int progress.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import { errInfo, messagesOf, opID, slimMessage } from './common.mjs';
import { runWorker } from './worker_base.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const pkgDir = path.join(HERE, '..', 'node_modules', '@openim', 'electron-client-sdk');
const libPath = process.env.OPENIM_NATIVE_LIB || path.join(pkgDir, 'assets', 'linux_x64', 'libopenimsdk.so');

// Event numbers: openim-sdk-cpp go/constant.go order (mirrored by the Electron SDK's NativeEvent).
const EV = {
  0: 'connecting',
  1: 'connect-success',
  2: 'connect-failed',
  3: 'kicked',
  4: 'token-expired',
  5: 'joined-group-added',
  6: 'joined-group-deleted',
  7: 'group-member-added',
  8: 'group-member-deleted',
  11: 'group-info-changed',
  12: 'group-dismissed',
  13: 'group-member-info-changed',
  25: 'sync-start',
  26: 'sync-finish',
  28: 'sync-failed',
  29: 'new-conversation',
  32: 'recv-new-message',
  41: 'recv-new-messages',
  42: 'recv-offline-new-messages',
  57: 'token-invalid',
};

const lib = koffi.load(libPath);
const baseCbProto = koffi.proto('void openimBaseCb(str, int, str, str)');
const sendCbProto = koffi.proto('void openimSendCb(str, int, str, str, int)');
const listenerProto = koffi.proto('void openimListenerCb(int, str)');

const fn = {
  get_sdk_version: lib.func('str get_sdk_version()'),
  init_sdk: lib.func('uint8 init_sdk(openimListenerCb *, str, str)'),
  login: lib.func('void login(openimBaseCb *, str, str, str)'),
  logout: lib.func('void logout(openimBaseCb *, str)'),
  create_text_message: lib.func('str create_text_message(str, str)'),
  send_message: lib.func('void send_message(openimSendCb *, str, str, str, str, str, int)'),
  get_advanced_history_message_list: lib.func('void get_advanced_history_message_list(openimBaseCb *, str, str)'),
};
const setters = [
  'set_user_listener',
  'set_friend_listener',
  'set_group_listener',
  'set_conversation_listener',
  'set_advanced_msg_listener',
  'set_batch_msg_listener',
  'set_custom_business_listener',
].map((n) => lib.func(`void ${n}(openimListenerCb *)`));

const impl = {};
let listener = null;
let inited = false;

function onListener(event, data) {
  const name = EV[event];
  if (!name) return;
  if (name === 'recv-new-message' || name === 'recv-new-messages') {
    const msgs = messagesOf(data).map(slimMessage);
    if (msgs.length) impl.emit('new-messages', msgs);
    return;
  }
  let d = data;
  try {
    d = JSON.parse(data);
  } catch {
    /* keep string */
  }
  impl.emit(name, d);
}

function baseCall(invoke) {
  return new Promise((resolve, reject) => {
    const cb = koffi.register((operationID, errCode, errMsg, data) => {
      koffi.unregister(cb);
      let parsed = data;
      try {
        parsed = JSON.parse(data);
      } catch {
        /* keep string */
      }
      if (errCode === 0) resolve(parsed);
      else reject({ errCode, errMsg, operationID, data: parsed });
    }, koffi.pointer(baseCbProto));
    try {
      invoke(cb);
    } catch (e) {
      koffi.unregister(cb);
      reject(errInfo(e));
    }
  });
}

impl.login = async ({ userID, token, platformID, apiAddr, wsAddr, dataDir }) => {
  if (!inited) {
    fs.mkdirSync(dataDir, { recursive: true });
    listener = koffi.register(onListener, koffi.pointer(listenerProto));
    const config = {
      systemType: 'electron',
      platformID: Number(platformID),
      apiAddr,
      wsAddr,
      dataDir,
      logLevel: 5,
      isLogStandardOutput: true,
      logFilePath: dataDir,
      isExternalExtensions: false,
    };
    const ok = fn.init_sdk(listener, opID('init'), JSON.stringify(config));
    if (!ok) throw new Error(`init_sdk returned ${ok}`);
    for (const set of setters) set(listener);
    inited = true;
  }
  await baseCall((cb) => fn.login(cb, opID('login'), userID, token));
  return { errCode: 0, sdkVersion: fn.get_sdk_version() };
};

impl.send = async ({ recvID, text }) => {
  const op = opID('send');
  const msgJSON = fn.create_text_message(op, text);
  if (!msgJSON) throw new Error('create_text_message returned nothing');
  const offlinePush = JSON.stringify({ title: 'interop', desc: '', ex: '', iOSPushSound: '+1', iOSBadgeCount: true });
  const res = await new Promise((resolve, reject) => {
    const cb = koffi.register((operationID, errCode, errMsg, data, progress) => {
      if (!errCode && !errMsg && !data) return; // upload progress tick
      koffi.unregister(cb);
      let parsed = data;
      try {
        parsed = JSON.parse(data);
      } catch {
        /* keep string */
      }
      if (errCode === 0) resolve(parsed);
      else reject({ errCode, errMsg, operationID, data: parsed });
    }, koffi.pointer(sendCbProto));
    fn.send_message(cb, op, msgJSON, recvID, '', offlinePush, 0);
  });
  return slimMessage(res);
};

impl.history = async ({ conversationID, count = 20 }) => {
  const params = { conversationID, count, startClientMsgID: '', lastMinSeq: 0, viewType: 0 };
  const d = await baseCall((cb) => fn.get_advanced_history_message_list(cb, opID('hist'), JSON.stringify(params)));
  return { isEnd: d?.isEnd, messages: messagesOf(d).map(slimMessage) };
};

impl.logout = async () => {
  await baseCall((cb) => fn.logout(cb, opID('logout')));
  return { errCode: 0 };
};

impl.shutdown = async () => {
  if (inited) {
    try {
      await impl.logout();
    } catch {
      /* ignore */
    }
  }
};

runWorker(impl);
