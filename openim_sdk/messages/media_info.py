"""Small, pure readers of media metadata from a file's first bytes (no dependencies).

* pictures: width and height of PNG, GIF, JPEG, WebP (VP8/VP8L/VP8X) and BMP;
* sound: duration of WAV (RIFF ``fmt``/``data``) and MP3 (Xing/Info/VBRI frame count, else the
  first frame's bitrate over the file size: exact for CBR, an estimate for VBR without a header);
* video: duration of MP4/MOV (the ``mvhd`` box).

Anything else answers ``None``: the builders then take what the caller gives (the official core
also asks the app for sound and video durations and for the video snapshot).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

_HEAD = 64 * 1024


def _read(path: str | os.PathLike[str], n: int = _HEAD) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def image_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(width, height) of a picture, or None when the format is not recognised."""
    return image_size_of(_read(path))


def image_size_of(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        w, h = struct.unpack("<HH", data[6:10])
        return int(w), int(h)
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return abs(int(w)), abs(int(h))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        kind = data[12:16]
        if kind == b"VP8X":
            w = int.from_bytes(data[24:27], "little") + 1
            h = int.from_bytes(data[27:30], "little") + 1
            return w, h
        if kind == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if kind == b"VP8 ":
            w, h = struct.unpack("<HH", data[26:30])
            return int(w) & 0x3FFF, int(h) & 0x3FFF
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return int(w), int(h)
        i += 2 + length
    return None


def sound_duration(path: str | os.PathLike[str]) -> int | None:
    """Duration in whole seconds (rounded up, as apps show it) of a WAV or MP3 file, else None."""
    ms = sound_duration_ms(Path(path).read_bytes()[:_HEAD], os.path.getsize(path))
    return None if ms is None else max(1, -(-ms // 1000))


def sound_duration_ms(head: bytes, size: int) -> int | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _wav_ms(head, size)
    return _mp3_ms(head, size)


def _wav_ms(data: bytes, size: int) -> int | None:
    i, byte_rate, data_len = 12, 0, 0
    while i + 8 <= len(data):
        cid, clen = data[i:i + 4], struct.unpack("<I", data[i + 4:i + 8])[0]
        if cid == b"fmt " and i + 20 <= len(data):
            byte_rate = struct.unpack("<I", data[i + 16:i + 20])[0]
        elif cid == b"data":
            data_len = min(clen, max(0, size - i - 8))
            break
        i += 8 + clen + (clen & 1)
    if not byte_rate or not data_len:
        return None
    return data_len * 1000 // byte_rate


_MP3_BITRATES = {  # (MPEG-1, layer III) and (MPEG-2/2.5, layer III), kbit/s
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_ms(data: bytes, size: int) -> int | None:
    start = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        tag = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        start = 10 + tag  # a tag longer than what was read: no frame found below, None
    i = start
    while i + 4 <= len(data):
        if data[i] == 0xFF and data[i + 1] & 0xE0 == 0xE0:
            break
        i += 1
    else:
        return None
    b1, b2, b3 = data[i + 1], data[i + 2], data[i + 3]
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    if version == 1 or layer != 1:  # reserved version, or not layer III
        return None
    kbps = _MP3_BITRATES[1 if version == 3 else 2][(b2 >> 4) & 0xF]
    rate_idx = (b2 >> 2) & 3
    if not kbps or rate_idx == 3:
        return None
    rate = _MP3_RATES[version][rate_idx]
    samples = 1152 if version == 3 else 576
    mono = (b3 >> 6) == 3
    side = (17 if mono else 32) if version == 3 else (9 if mono else 17)
    xing = i + 4 + side
    for marker in (b"Xing", b"Info"):
        if data[xing:xing + 4] == marker and data[xing + 7] & 1:
            frames: int = struct.unpack(">I", data[xing + 8:xing + 12])[0]
            return frames * samples * 1000 // rate
    if data[i + 36:i + 40] == b"VBRI":
        vbri_frames: int = struct.unpack(">I", data[i + 50:i + 54])[0]
        return vbri_frames * samples * 1000 // rate
    return max(0, size - i) * 8 // kbps


def video_duration(path: str | os.PathLike[str]) -> int | None:
    """Duration in whole seconds (rounded up) of an MP4/MOV file (``moov/mvhd``), else None."""
    with open(path, "rb") as f:
        return _mp4_duration(f, os.path.getsize(path))


def _mp4_duration(f: BinaryIO, size: int) -> int | None:
    pos = 0
    end = size
    while pos + 8 <= end:
        f.seek(pos)
        head = f.read(16)
        if len(head) < 8:
            return None
        box_len, kind = struct.unpack(">I", head[:4])[0], head[4:8]
        hdr = 8
        if box_len == 1:
            box_len, hdr = struct.unpack(">Q", head[8:16])[0], 16
        elif box_len == 0:
            box_len = end - pos
        if box_len < hdr:
            return None
        if kind == b"moov":
            pos, end = pos + hdr, pos + box_len  # descend
            continue
        if kind == b"mvhd":
            f.seek(pos + hdr)
            body = f.read(32)
            if body[0] == 1:
                scale, dur = struct.unpack(">IQ", body[20:32])
            else:
                scale, dur = struct.unpack(">II", body[12:20])
            return max(1, -(-dur // scale)) if scale else None
        pos += box_len
    return None
