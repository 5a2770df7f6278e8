"""The text of one message item in the log, how it wraps into lines, and how many lines that is.

:func:`text_height` counts the lines :func:`hanging_lines` makes, with rich's own line breaking
but without building any segments: the log measures every loaded item with it and renders only
the items on screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich._wrap import divide_line
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from .. import render

if TYPE_CHECKING:
    from .message_log import MessageLog

FOLD_LINES = 20  # a longer message shows this many lines until ``m``
FOLD_CHARS = 4000  # ... or this many characters (a 5 MB paste must not stall the view)


def item_text(log: MessageLog, i: int) -> Text:
    """The text of the ``i``-th loaded item: sender header, body (folded, with markdown, mentions,
    code, quote or attachment) and, on own messages, the send status or read receipt."""
    it = log.items[i]
    m = it.msg
    now = log.clock()
    st = log._style
    if m.is_notification and not render.is_revoked(m):
        t = Text(f"· {render.notification_text(m)} · {render.fmt_stamp(m.time, now, log.tz, log.time_format)}", style=st("system"),
                 justify="center")
        return t
    out = Text(no_wrap=False)
    if it.run_start:
        own = m.send_id == log.me
        name = "You" if own else (m.sender_nickname or log.names.get(m.send_id) or m.send_id)
        out.append(name, st("self-sender") if own else st("sender"))
        out.append("  ")
        out.append(render.fmt_stamp(m.time, now, log.tz, log.time_format), st("time"))
        out.append("\n")
    indent = "  "
    if render.is_revoked(m):
        who = "You" if m.send_id == log.me else (m.sender_nickname or m.send_id)
        out.append(f"{indent}{who} revoked a message", st("revoked"))
    else:
        q = render.quote_of(m)
        if q is not None:
            out.append(f"{indent}│ {q[0]}: {q[1]}", st("quote"))
            out.append("\n")
        if render.is_attachment(m):
            kind, fname, size = render.attachment_label(m)
            out.append(indent)
            out.append(f"[{kind}] {fname}" + (f" ({size})" if size else ""), st("attachment"))
            if log.cursor == i:
                out.append("  d download · o open", st("hint"))
        else:
            body = render.body_text(m)
            lines = body.split("\n") or [""]
            folded = ""
            if m.client_msg_id not in log.expanded:
                lines, folded = render.fold(lines, FOLD_LINES, FOLD_CHARS)
            in_code = False
            first = True
            for line in lines:
                if render.is_fence(line):  # ``` opens or closes a code block; the fence is not shown
                    in_code = not in_code
                    continue
                if not first:
                    out.append("\n")
                first = False
                if in_code:
                    out.append(indent)
                    out.append(line or " ", st("code"))
                    continue
                plain, marks = render.inline_markdown(line)
                seg = Text(indent + plain)
                for s, e, kind, url in marks:
                    style = {"bold": Style(bold=True), "italic": Style(italic=True), "code": st("code"),
                             "link": st("link") + Style(link=url)}[kind]
                    seg.stylize(style, s + len(indent), e + len(indent))
                for s, e, mine in render.mention_spans(plain, log.self_names):
                    seg.stylize(st("self-mention") if mine else st("mention"), s + len(indent),
                                e + len(indent))
                out.append_text(seg)
            if folded:
                out.append(f"\n{indent}… {folded} — m shows all", st("hint"))
    if m.send_id == log.me and not render.is_revoked(m):
        label = render.status_label(m, log.online)
        if label == "failed":
            refusal = log.refusal(m)
            out.append(f"  ✗ not sent: {refusal.explanation}" if refusal else "  ✗ failed", st("failed"))
            if log.retryable(m):
                out.append(" · r retry", st("failed"))
        elif label in ("sending", "queued"):
            out.append(f"  … {label}", st("status"))
        elif i == log._last_own:
            read = (not log.is_group) and (m.is_read or (m.seq and log.peer_read_seq >= m.seq))
            out.append("  ✓ read" if read else "  ✓ sent", st("read") if read else st("status"))
    return out


def hang_width(plain: str) -> int:
    """The indent a wrapped line keeps: its leading spaces, plus a quote's "│ " bar."""
    n = len(plain) - len(plain.lstrip(" "))
    if plain.startswith("│ ", n):
        n += 2
    return n if n < len(plain) else 0


def hanging_lines(console: Console, line: Text, width: int, base: Style) -> list[Strip]:
    """One logical line, wrapped so that continuation lines keep its indent (and a quote's bar)."""
    hang = hang_width(line.plain)
    if hang == 0 or hang > width // 2:
        opts = console.options.update(width=width, height=None, no_wrap=False, overflow="fold")
        return [Strip(ln, width) for ln in console.render_lines(line, opts, style=base, pad=True, new_lines=False)]
    head, body = line[:hang], line[hang:]
    head_opts = console.options.update(width=hang, height=None, no_wrap=True, overflow="crop")
    head_segs = console.render_lines(head, head_opts, style=base, pad=True, new_lines=False)[0]
    body_opts = console.options.update(width=width - hang, height=None, no_wrap=False, overflow="fold")
    body_lines = console.render_lines(body, body_opts, style=base, pad=True, new_lines=False)
    return [Strip([*head_segs, *ln], width) for ln in body_lines]


def text_height(plain: str, width: int) -> int:
    """How many lines ``hanging_lines`` makes of each line of ``plain`` (no tabs), in all."""
    lines = plain.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # as Text.split: no blank line after a trailing newline
    n = 0
    for line in lines:
        hang = hang_width(line)
        if hang == 0 or hang > width // 2:
            n += len(divide_line(line, width, fold=True)) + 1
        else:
            n += len(divide_line(line[hang:], width - hang, fold=True)) + 1
    return n
