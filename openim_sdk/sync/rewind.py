"""Rewind detection (spec ws-protocol §7): a 1001 that answers below what we held is only a
suspicion until a probe (a 1005 just above the server's answer) proves that seqs we knew of are
gone; then the conversation restarts from there (:class:`~openim_sdk.sync.actions.Resync`).
Part of :class:`~openim_sdk.sync.engine.SyncEngine`, kept apart because it is its own rule."""

from __future__ import annotations

from collections import OrderedDict

from ..protocol.pb.sdkws import sdkws_pb2
from .actions import DeliverySource, PullSeqs, Resync, SyncConfig
from .state import Conv, Out, Phase, Probe, PullReply, Request


class RewindProbe:
    """Mixed into the engine, which provides the state and the rules used here."""

    config: SyncConfig
    _convs: dict[str, Conv]
    _requests: dict[int, Request]
    _dirty: set[str]
    _phase: Phase
    _delivered_ids: OrderedDict[str, tuple[str, int]]

    def _new_request_id(self) -> int:
        raise NotImplementedError

    def _ingest(self, conv: Conv, msg: sdkws_pb2.MsgData, source: DeliverySource) -> None:
        raise NotImplementedError

    def _apply_window(self, conv: Conv) -> None:
        raise NotImplementedError

    def _advance(self, conv: Conv, out: Out) -> None:
        raise NotImplementedError

    @staticmethod
    def _reply_for(resp: PullReply, cid: str) -> sdkws_pb2.PullMsgs | None:
        raise NotImplementedError

    def _reset(self, conv: Conv, server_max: int) -> None:
        """Track ``conv`` from ``server_max`` again, forgetting everything known above it: the seqs
        seen and the clientMsgIDs delivered there (so a re-pull of them is delivered again)."""
        conv.epoch += 1
        conv.synced = conv.target = server_max
        conv.buffer.clear()
        conv.missing.clear()
        conv.inflight.clear()
        conv.attempts.clear()
        conv.history_inflight.clear()
        conv.probe = None
        conv.seen.discard_above(server_max)
        stale = [i for i, (c, s) in self._delivered_ids.items() if c == conv.cid and s > server_max]
        for cmid in stale:
            del self._delivered_ids[cmid]

    def _suspect_rewind(self, conv: Conv, server_max: int, out: Out) -> None:
        """A 1001 answered below what we held when asking: probe before believing it."""
        if conv.probe is not None:
            return
        conv.probe = Probe(0, server_max)
        self._send_probe(conv, out)

    def _send_probe(self, conv: Conv, out: Out) -> None:
        probe = conv.probe
        assert probe is not None
        probe.top = conv.target
        seqs = tuple(range(probe.floor + 1, min(conv.target, probe.floor + self.config.page) + 1))
        if not seqs:
            conv.probe = None
            return
        rid = self._new_request_id()
        probe.request_id = rid
        self._requests[rid] = Request(rid, "probe", True, False, {conv.cid: seqs}, {conv.cid: conv.epoch})
        out.add(PullSeqs(rid, ((conv.cid, seqs),)))

    def _probe_reply(self, req: Request, resp: PullReply, failed: bool, out: Out) -> None:
        for cid in req.seqs:
            conv = self._convs.get(cid)
            if conv is None or conv.epoch != req.epochs[cid] or conv.probe is None:
                continue
            probe = conv.probe
            if probe.request_id != req.request_id:
                continue
            if failed:
                if probe.attempts < self.config.max_attempts and self._phase is not Phase.OFFLINE:
                    probe.attempts += 1
                    self._send_probe(conv, out)
                else:
                    conv.probe = None
                continue
            conv.probe = None
            pm = self._reply_for(resp, cid)
            if pm is None or not pm.isEnd:
                continue  # the server served what we asked: no proof of a rewind
            end = int(pm.endSeq)
            returned = [m for m in pm.Msgs if m.seq > 0]
            if end >= probe.top or any(m.seq > end for m in returned):
                continue  # the server holds all we knew of: the 1001 was wrong, not the history
            # Confirmed. What is held or buffered above the 1001's answer is gone from the server;
            # what it holds there now was stored after that answer. Seqs pushed since (above the
            # server's end, or not) are pulled again rather than trusted: the server decides.
            base = min(probe.floor, conv.synced)
            # up to a page past the server's end: never a window skip above what it holds
            pending = min(max([probe.pushed, *conv.buffer], default=0), end + self.config.page)
            if conv.synced > base:
                out.add(Resync(cid, conv.synced, base))
            self._reset(conv, base)
            conv.target = max(base, end, pending)
            for msg in sorted(returned, key=lambda m: m.seq):
                self._ingest(conv, msg, "pull")
            self._apply_window(conv)
            self._advance(conv, out)
            self._dirty.add(cid)
