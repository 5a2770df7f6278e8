// Message normalisation shared by the Node workers and the browser page (no Node imports here).

/** Text of a MessageItem (official SDK JSON shape), or '' if it is not a text message. */
export function messageText(m) {
  if (!m) return '';
  if (m.textElem && typeof m.textElem.content === 'string') return m.textElem.content;
  if (typeof m.content === 'string') {
    try {
      const c = JSON.parse(m.content);
      if (c && typeof c.content === 'string') return c.content;
    } catch {
      return m.content;
    }
  }
  return '';
}

/** Reduce an SDK MessageItem to the fields the harness asserts on. */
export function slimMessage(m) {
  return {
    clientMsgID: m.clientMsgID,
    serverMsgID: m.serverMsgID,
    sendID: m.sendID,
    recvID: m.recvID,
    groupID: m.groupID,
    sessionType: m.sessionType,
    contentType: m.contentType,
    seq: typeof m.seq === 'number' ? m.seq : Number(m.seq || 0),
    sendTime: m.sendTime,
    status: m.status,
    text: messageText(m),
  };
}

/** Messages carried by an SDK event payload (object, array, or JSON string of either). */
export function messagesOf(data) {
  let d = data;
  if (typeof d === 'string') {
    try {
      d = JSON.parse(d);
    } catch {
      return [];
    }
  }
  if (!d) return [];
  if (Array.isArray(d)) return d;
  if (Array.isArray(d.messageList)) return d.messageList;
  if (d.clientMsgID) return [d];
  return [];
}
