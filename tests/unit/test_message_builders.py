"""Message builders produce the official core's content JSON; media metadata is read from files."""

from __future__ import annotations

import json
import struct
import wave
import zlib

import pytest

from openim_sdk import messages as m
from openim_sdk.messages import media_info
from openim_sdk.models import Message
from openim_sdk.protocol.constants import ContentType, MsgStatus


def png(path, w, h):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def jpeg(path, w, h):
    sof = b"\xff\xc0" + struct.pack(">HBHH", 17, 8, h, w) + b"\x03" + b"\x00" * 9
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
    path.write_bytes(b"\xff\xd8" + app0 + sof + b"\xff\xd9")
    return path


def wav(path, seconds, rate=8000):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(b"\x00\x00" * int(rate * seconds))
    return path


def mp4(path, duration_s, scale=1000):
    mvhd_body = b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, scale, duration_s * scale) + b"\x00" * 80
    mvhd = struct.pack(">I", 8 + len(mvhd_body)) + b"mvhd" + mvhd_body
    moov = struct.pack(">I", 8 + len(mvhd)) + b"moov" + mvhd
    ftyp = struct.pack(">I", 16) + b"ftypisom" + b"\x00\x00\x02\x00"
    mdat = struct.pack(">I", 8 + 100) + b"mdat" + b"\x00" * 100
    path.write_bytes(ftyp + mdat + moov)
    return path


def mp3_cbr(path, seconds, kbps=128):
    # MPEG-1 layer III, 128 kbit/s, 44.1 kHz, no CRC, stereo: header FF FB 90 00, 417-byte frames
    frame = b"\xff\xfb\x90\x00" + b"\x00" * 413
    n = int(seconds * kbps * 1000 / 8 / len(frame))
    path.write_bytes(frame * n)
    return path


def test_text_like_builders():
    assert m.text("hi").content == {"content": "hi"} and m.text("hi").content_type == ContentType.TEXT
    adv = m.advanced_text("see x", [{"type": "url", "offset": 4, "length": 1, "url": "https://x"}])
    assert adv.content == {"text": "see x", "messageEntityList": [{"type": "url", "offset": 4, "length": 1,
                                                                    "url": "https://x"}]}
    at = m.at_text("hey", ["u1", "AtAllTag"], me="u1")
    assert at.content == {"text": "hey", "atUserList": ["u1", "AtAllTag"], "isAtSelf": True}
    assert at.at_user_ids == ("u1", "AtAllTag") and at.content_type == ContentType.AT_TEXT
    assert m.location("here", 1.5, 2).content == {"description": "here", "longitude": 1.5, "latitude": 2.0}
    assert m.card("u2", "Bob").content == {"userID": "u2", "nickname": "Bob", "faceURL": "", "ex": ""}
    assert m.custom("d", "e").content == {"data": "d", "extension": "e"}
    assert m.face(3).content == {"index": 3} and m.face(1, "x").content == {"index": 1, "data": "x"}


def quoted_message() -> Message:
    return Message(client_msg_id="q1", conversation_id="si_a_b", send_id="a", recv_id="b", seq=7, send_time=99,
                   content_type=ContentType.TEXT, content_json='{"content":"original"}', status=MsgStatus.SEND_SUCCESS,
                   sender_nickname="A")


def test_quote_embeds_the_whole_quoted_message():
    q = m.quote("reply", m.message_struct(quoted_message()))
    assert q.content_type == ContentType.QUOTE and q.content["text"] == "reply"
    qm = q.content["quoteMessage"]
    assert (qm["clientMsgID"], qm["seq"], qm["sendID"], qm["senderNickname"], qm["contentType"]) == ("q1", 7, "a", "A", 101)
    assert qm["textElem"] == {"content": "original"} and qm["sendTime"] == 99
    # a quote of a quote is flattened to its text, as the official core does
    nested = m.quote("again", {"clientMsgID": "x", "contentType": ContentType.QUOTE, "quoteElem": q.content})
    assert nested.content["quoteMessage"]["contentType"] == ContentType.TEXT
    assert nested.content["quoteMessage"]["textElem"] == {"content": "reply"}
    assert "quoteElem" not in nested.content["quoteMessage"]


def test_merger_and_forward():
    s = m.message_struct(quoted_message())
    merged = m.merger([s, s], "Chat of A", ["A: original", "A: original"])
    assert merged.content == {"title": "Chat of A", "abstractList": ["A: original"] * 2, "multiMessage": [s, s]}
    fwd = m.forward(s)
    assert (fwd.content_type, fwd.content) == (ContentType.TEXT, {"content": "original"})
    with pytest.raises(ValueError):
        m.forward({**s, "status": MsgStatus.SEND_FAILED})


def test_offline_push_and_wire_bytes():
    out = m.text("hi").with_offline_push("Title", "Desc", "x")
    assert (out.offline_push.title, out.offline_push.desc, out.offline_push.ex) == ("Title", "Desc", "x")
    assert out.content_bytes() == b'{"content":"hi"}'
    assert json.loads(m.text("héllo").content_bytes()) == {"content": "héllo"}


def test_image_from_path_reads_size(tmp_path):
    p = png(tmp_path / "a.png", 320, 200)
    img = m.image(p)
    pic = img.content["sourcePicture"]
    assert (pic["width"], pic["height"], pic["size"], pic["type"]) == (320, 200, p.stat().st_size, "image/png")
    assert img.content["sourcePath"] == str(p) and "url" not in pic and img.local_paths == [str(p)]
    assert media_info.image_size(jpeg(tmp_path / "b.jpg", 640, 480)) == (640, 480)
    gif = tmp_path / "c.gif"
    gif.write_bytes(b"GIF89a" + struct.pack("<HH", 12, 34) + b"\x00" * 10)
    assert media_info.image_size(gif) == (12, 34)
    junk = tmp_path / "d.bin"
    junk.write_bytes(b"not a picture at all")
    assert media_info.image_size(junk) is None


def test_image_url():
    img = m.image_url("https://cdn/x.jpg", width=10, height=20, size=30)
    assert img.local_paths == []
    assert img.content["sourcePicture"] == {"type": "image/jpeg", "size": 30, "width": 10, "height": 20,
                                            "url": "https://cdn/x.jpg"}


def test_sound_duration_from_wav_and_mp3(tmp_path):
    snd = m.sound(wav(tmp_path / "v.wav", 2.5))
    assert snd.content["duration"] == 3 and snd.content["soundType"] == "audio/wav"
    assert snd.content["dataSize"] == (tmp_path / "v.wav").stat().st_size and "sourceUrl" not in snd.content
    assert media_info.sound_duration(mp3_cbr(tmp_path / "v.mp3", 4)) == 4
    assert m.sound(wav(tmp_path / "w.wav", 1), duration=9).content["duration"] == 9  # the caller wins
    other = tmp_path / "v.ogg"
    other.write_bytes(b"OggS" + b"\x00" * 100)
    assert media_info.sound_duration(other) is None and m.sound(other).content["duration"] == 0
    assert m.sound_url("https://cdn/v.m4a", 5).content == {"sourceUrl": "https://cdn/v.m4a", "dataSize": 0,
                                                           "duration": 5, "soundType": "audio/m4a"}


def test_video_duration_and_snapshot(tmp_path):
    vid = m.video(mp4(tmp_path / "v.mp4", 12), png(tmp_path / "snap.png", 64, 48))
    c = vid.content
    assert (c["duration"], c["videoType"], c["snapshotWidth"], c["snapshotHeight"]) == (12, "video/mp4", 64, 48)
    assert c["snapshotType"] == "image/png" and vid.local_paths == [str(tmp_path / "v.mp4"), str(tmp_path / "snap.png")]
    url = m.video_url("https://cdn/v.mp4", 3, snapshot_url="https://cdn/s.jpg")
    assert url.local_paths == [] and url.content["snapshotUrl"] == "https://cdn/s.jpg"


def test_file(tmp_path):
    p = tmp_path / "report.pdf"
    p.write_bytes(b"%PDF" * 10)
    f = m.file(p)
    assert (f.content["fileName"], f.content["fileSize"], f.content["fileType"]) == ("report.pdf", 40, "pdf")
    assert m.file_url("https://cdn/r.pdf", "r.pdf", size=3).content == {
        "sourceUrl": "https://cdn/r.pdf", "fileName": "r.pdf", "fileSize": 3, "fileType": "pdf"}
