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
  16: 'friend-application-added',
  17: 'friend-application-deleted',
  18: 'friend-application-accepted',
  19: 'friend-application-rejected',
  20: 'friend-added',
  21: 'friend-deleted',
  22: 'friend-info-changed',
  23: 'black-added',
  24: 'black-deleted',
  25: 'sync-start',
  26: 'sync-finish',
  28: 'sync-failed',
  29: 'new-conversation',
  30: 'conversation-changed',
  31: 'total-unread-changed',
  32: 'recv-new-message',
  33: 'recv-c2c-read-receipt',
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
// Base-callback functions reachable through the generic `invoke` command: after (baseCb*, opID)
// each takes these arguments ('str', 'int', or 'json' = a str the worker JSON-encodes), as the
// Electron SDK's lib/index.js declares them.
const INVOKABLE = {
  add_friend: ['json'], // {toUserID, reqMsg}
  accept_friend_application: ['json'], // {toUserID, handleMsg}
  refuse_friend_application: ['json'],
  get_friend_application_list_as_recipient: ['json'],
  get_friend_application_list_as_applicant: ['json'],
  get_friend_list: ['int'], // filterBlack
  update_friends: ['json'], // {friendUserIDs, remark?, isPinned?, ex?}
  delete_friend: ['str'],
  add_black: ['str', 'str'], // toUserID, ex
  remove_black: ['str'],
  get_black_list: [],
  get_all_conversation_list: [],
  get_one_conversation: ['int', 'str'], // sessionType, sourceID
  set_conversation: ['str', 'json'], // conversationID, {conversationID, isPinned?, recvMsgOpt?, ...}
  set_conversation_draft: ['str', 'str'],
  hide_conversation: ['str'],
  mark_conversation_message_as_read: ['str'],
  mark_all_conversation_message_as_read: [],
  clear_conversation_and_delete_all_msg: ['str'],
  delete_conversation_and_delete_all_msg: ['str'],
  get_total_unread_msg_count: [],
};
for (const [name, types] of Object.entries(INVOKABLE)) {
  const cTypes = types.map((t) => (t === 'int' ? 'int' : 'str'));
  fn[name] = lib.func(`void ${name}(openimBaseCb *, str${cTypes.map((t) => `, ${t}`).join('')})`);
}

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

impl.invoke = async ({ fn: name, args = [] }) => {
  const types = INVOKABLE[name];
  if (!types) throw new Error(`not invokable: ${name}`);
  if (args.length !== types.length) throw new Error(`${name} takes ${types.length} arguments`);
  const cArgs = args.map((a, i) => (types[i] === 'json' ? JSON.stringify(a) : types[i] === 'int' ? Number(a) : String(a)));
  return baseCall((cb) => fn[name](cb, opID(name), ...cArgs));
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
