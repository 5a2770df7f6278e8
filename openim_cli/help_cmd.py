"""``openim help [TOPIC]``: help pages from the same source as ``--help``, and a man page.

- ``openim help`` lists the topics: every command (``send``, ``friends add`` ...) and a few
  pages that belong to no single command (``config``, ``keys``, ``environment``, ``exit-codes``).
- ``openim help COMMAND...`` prints exactly what ``openim COMMAND... --help`` prints: it runs the
  command tree with ``--help``, so there is one source (the Typer commands' docstrings and options).
- ``openim help --man`` prints a man page (roff) built from the same command tree (click's
  ``params``, ``help``, usage pieces), with the topic pages as its sections:
  ``openim help --man > openim.1; man -l openim.1``. No library fits: click-man expects click's own
  classes and an installed entry point, while Typer carries its own click; the roff here is minimal.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer

from . import output
from .main import JsonOpt, app

# Typer carries its own copy of click (``typer._click``): the tree is walked by duck typing
# (``list_commands``, ``context_class``, ``param_type_name``), as docs/_hooks/generate.py does.


def _root() -> Any:
    return typer.main.get_command(app)


def _commands(cmd: Any, ctx: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any, Any]]:
    """Every visible command under ``cmd``, depth first: (path, command, its context)."""
    if not hasattr(cmd, "list_commands"):
        return
    for name in cmd.list_commands(ctx):
        sub = cmd.get_command(ctx, name)
        if sub is None or getattr(sub, "hidden", False):
            continue
        sub_ctx = sub.context_class(sub, info_name=name, parent=ctx)
        yield (*path, name), sub, sub_ctx
        yield from _commands(sub, sub_ctx, (*path, name))


def _tree() -> list[tuple[tuple[str, ...], Any, Any]]:
    root = _root()
    return list(_commands(root, root.context_class(root, info_name="openim")))


# --------------------------------------------------------------------------- topic pages


def _topic_config() -> str:
    from . import settings

    lines = [f"The settings file: {settings.path()} (`openim config path`).",
             "`openim config edit` opens it (a commented one at first), `openim config show` prints the",
             "effective settings. Every key, with its default:", ""]
    for section, keys in settings.KEYS.items():
        if section:
            lines.append(f"[{section}]")
        for key, (typ, default, doc) in keys.items():
            lines.append(f"  {key} = {settings._toml(default)}  ({typ.__name__})")
            lines.append(f"      {doc}")
        lines.append("")
    lines += ["[keys]", "  any chat action = \"key\" or \"key1,key2\"  (see `openim help keys`)", "",
              "A wrong key or type is an error naming the file and the key; nothing falls back silently."]
    return "\n".join(lines)


def _topic_keys() -> str:
    from .entry import install_hint, missing_extra

    if missing_extra("tui"):
        return f"The chat's keys come with the chat: {install_hint('tui')}"
    from openim_tui.keys import rebindable
    from openim_tui.screens.help import binding_sections

    lines = ["The keys of `openim chat` (F1 shows them in the chat too):", ""]
    for title, rows in binding_sections():
        lines.append(title)
        width = max((len(k) for k, _ in rows), default=0)
        lines += [f"  {k.ljust(width)}  {d}" for k, d in rows]
        lines.append("")
    lines += ["Rebind any of these actions in the [keys] table of the settings file:", ""]
    actions = rebindable()
    width = max(len(a) for a in actions)
    lines += [f"  {a.ljust(width)}  {k:16} {d}" for a, (k, d) in sorted(actions.items())]
    return "\n".join(lines)


def _environment() -> list[tuple[str, str]]:
    """The environment variables: the options that read one (from the command tree), and the
    directories and profile the session files use."""
    found: dict[str, str] = {
        "OPENIM_CONFIG_DIR": "where profiles.json and config.toml live (default: the platform's config dir)",
        "OPENIM_DATA_DIR": "where each user's local cache lives (default: the platform's data dir)",
        "OPENIM_PROFILE": "the profile used without -p (default: the settings' default_profile)",
        "NO_COLOR": "no colours or styles at all in the output",
        "OPENIM_CACHE_DIR": "where the rendered top-level help is cached (default: the platform's cache dir)",
        "OPENIM_NO_HELP_CACHE": "1: render `openim --help` with Typer every time (no cache)",
        "OPENIM_NO_QUICK_EXIT": "1: one-shot commands end through Python's normal exit (slower; for debugging)",
    }
    for path, cmd, _ in _tree():
        for p in cmd.params:
            envs = getattr(p, "envvar", None)
            for env in [envs] if isinstance(envs, str) else list(envs or []):
                found.setdefault(env, f"{getattr(p, 'help', '') or p.name} (openim {' '.join(path)})")
    return sorted(found.items())


def _topic_environment() -> str:
    rows = _environment()
    width = max(len(k) for k, _ in rows)
    return "\n".join(["Environment variables:", ""] + [f"  {k.ljust(width)}  {v}" for k, v in rows])


EXIT_CODES = [
    (0, "success"),
    (output.EXIT_OPENIM, "the server refused: an OpenIM error (its code and name are shown)"),
    (output.EXIT_USAGE, "usage: a wrong argument, option or settings file"),
    (output.EXIT_UNREACHABLE, "the server cannot be reached"),
    (output.EXIT_SESSION, "no session, or it was kicked or expired: log in again"),
]


def _topic_exit_codes() -> str:
    return "\n".join(["Exit status of every openim command:", ""] + [f"  {c}  {d}" for c, d in EXIT_CODES])


TOPICS: dict[str, tuple[str, Callable[[], str]]] = {
    "config": ("the settings file: every key, its default and meaning", _topic_config),
    "keys": ("the chat's key bindings, and which actions [keys] can rebind", _topic_keys),
    "environment": ("environment variables the commands read", _topic_environment),
    "exit-codes": ("what each exit status means", _topic_exit_codes),
}


def _index() -> str:
    rows = [("  " * len(path) + " ".join(path), cmd.get_short_help_str(limit=70)) for path, cmd, _ in _tree()]
    width = max(len(label) for label, _ in rows) + 2
    lines = ["Usage: openim help TOPIC   (the same as `openim TOPIC --help` for a command)", "",
             "Commands:"]
    lines += [label.ljust(width) + doc for label, doc in rows]
    lines += ["", "Topics:"]
    tw = max(len(t) for t in TOPICS)
    lines += [f"  {name.ljust(tw)}  {doc}" for name, (doc, _) in TOPICS.items()]
    lines += ["", "`openim help --man > openim.1` writes a man page with all of it (man -l openim.1)."]
    return "\n".join(lines)


# --------------------------------------------------------------------------- man page


def _roff(text: str) -> str:
    """Plain text as roff: backslashes, hyphens and non-ASCII escaped, no line starting with a control character."""
    out = []
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = "".join(ch if ord(ch) < 128 else f"\\[u{ord(ch):04X}]" for ch in text)  # any troff, any locale
    for line in text.splitlines():
        out.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(out)


def _bold(text: str) -> str:
    return "\\fB" + _roff(text) + "\\fR"


def _params_roff(cmd: Any, ctx: Any) -> list[str]:
    out: list[str] = []
    for p in cmd.params:
        if getattr(p, "hidden", False) or p.name in ("install_completion", "show_completion"):
            continue
        if p.param_type_name == "option":
            record = p.get_help_record(ctx)
            if record is None:
                continue
            names, text = record
        else:
            names, text = (p.metavar or p.name or "").upper(), getattr(p, "help", None) or ""
            if p.required:
                text += "  [required]"
        out += [".TP", _bold(names), _roff(text.strip()) or "\\&"]
    return out


def man_page(topic: tuple[str, ...] = ()) -> str:
    """The man page of ``openim`` (or of one command, ``topic``), in roff."""
    from openim_sdk import __version__

    root = _root()
    root_ctx = root.context_class(root, info_name="openim")
    tree = _tree()
    if topic:
        tree = [t for t in tree if t[0][:len(topic)] == topic]
    name = "-".join(("openim", *topic))
    first = next((c for p, c, _ in tree if p == topic), root)
    lines = [f'.TH {name.upper()} 1 "" "openim {__version__}" "User Commands"',
             ".SH NAME", f"{_roff(name)} \\- {_roff(first.get_short_help_str(limit=200))}",
             ".SH SYNOPSIS", f".B {_roff(' '.join(('openim', *topic)))}",
             _roff(" ".join(first.collect_usage_pieces(root_ctx if not topic else tree[0][2])))]
    if not topic:
        lines += [".SH DESCRIPTION", _roff((root.help or "").strip()), ".SH OPTIONS", *_params_roff(root, root_ctx)]
    lines.append(".SH COMMANDS")
    for path, cmd, ctx in tree:
        usage = " ".join(("openim", *path, *cmd.collect_usage_pieces(ctx)))
        lines += [f'.SS "{_roff(usage)}"', _roff((cmd.help or "").strip()) or "\\&"]
        lines += _params_roff(cmd, ctx)
    if not topic:
        lines += [".SH \"EXIT STATUS\""]
        for code, doc in EXIT_CODES:
            lines += [".TP", _bold(str(code)), _roff(doc)]
        lines += [".SH ENVIRONMENT"]
        for env, doc in _environment():
            lines += [".TP", _bold(env), _roff(doc)]
        for title, topic_name in (("CONFIGURATION", "config"), ("CHAT KEYS", "keys")):
            lines += [f'.SH "{title}"', ".nf", _roff(TOPICS[topic_name][1]()), ".fi"]
    lines += [".SH \"SEE ALSO\"", "\\fBopenim help\\fR TOPIC, \\fBopenim\\fR COMMAND \\fB\\-\\-help\\fR"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the command


@app.command("help", context_settings={"ignore_unknown_options": True})
def help_command(
    topic: Annotated[list[str] | None, typer.Argument(
        help="A command (e.g. send, friends add) or a topic: config, keys, environment, exit-codes.")] = None,
    man: Annotated[bool, typer.Option("--man", help="Print a man page (roff) instead: openim help --man > "
                                      "openim.1; man -l openim.1.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Help on a command or topic; without one, list them all."""
    words = tuple(topic or ())
    tree = {path: cmd for path, cmd, _ in _tree()}
    if words and words not in tree and (len(words) > 1 or words[0] not in TOPICS):
        output.fail(f"no help topic {' '.join(words)!r}; `openim help` lists them", output.EXIT_USAGE)
    name = " ".join(words)
    if man:
        if words and words not in tree:
            output.fail("--man takes a command (or nothing, for the whole page), not a topic", output.EXIT_USAGE)
        page = man_page(words)
        if as_json:
            output.emit_json({"topic": name, "kind": "man", "text": page})
        else:
            typer.echo(page, nl=False)
        return
    if not words:
        if as_json:  # JSON lines, one per topic
            for path, cmd, _ in _tree():
                output.emit_json({"topic": " ".join(path), "kind": "command", "summary": cmd.get_short_help_str(200)})
            for t, (doc, _) in TOPICS.items():
                output.emit_json({"topic": t, "kind": "topic", "summary": doc})
        else:
            typer.echo(_index())
        return
    topic_page = TOPICS[words[0]][1] if len(words) == 1 and words[0] in TOPICS else None
    if as_json:
        parts = ([_command_help(words)] if words in tree else []) + ([topic_page()] if topic_page else [])
        output.emit_json({"topic": name, "kind": "command" if words in tree else "topic",
                          "text": "\n".join(p.rstrip("\n") for p in parts) + "\n"})
        return
    if words in tree:
        # the command's own --help: the same click machinery, so the same text
        try:
            _root().main(args=[*words, "--help"], prog_name="openim", standalone_mode=True)
        except SystemExit as exc:
            if topic_page is None or exc.code:
                raise
        assert topic_page is not None
        typer.echo()  # `config` is a command and a topic: its --help, then the page
    if topic_page is not None:
        typer.echo(topic_page())


def _command_help(words: tuple[str, ...]) -> str:
    """What ``openim WORDS --help`` prints, captured."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        _root().main(args=[*words, "--help"], prog_name="openim", standalone_mode=True)
    return buf.getvalue()
