"""MkDocs hook: pages generated from the code at build time.

A page asks for a generated block with a marker line, replaced here:

- ``<!-- generated: cli -->``: every ``openim`` command, from the Typer/click command tree
  (``openim_cli.main.app`` through ``typer.main.get_command``), and ``openim server``'s own
  argparse options (``server_stub.config.build_parser``, ``server_stub.ops.ops_parser``);
- ``<!-- generated: tui-keys -->``: the chat's key bindings, from the ``BINDINGS`` of its classes
  (``openim_tui.screens.help.binding_sections``, what F1 shows);
- ``<!-- generated: server-config -->``: every configuration key, from ``ServerConfig``'s fields
  and ``server_stub.config_help``.
"""

from __future__ import annotations

import os
from typing import Any

# Typer carries its own copy of click (``typer._click``), so the command tree is walked by duck
# typing (``param_type_name``, ``list_commands``, ``context_class``), not isinstance checks.


def _esc(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _param_row(param: Any) -> str:
    if param.param_type_name == "option":
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        help_text = param.help or ""
        if param.envvar:
            envs = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)
            help_text += " (env " + ", ".join(f"`{e}`" for e in envs) + ")"
        default = ""
        if param.default is not None and not param.is_flag and param.show_default is not False \
                and not callable(param.default) and param.default != ():
            default = f"`{param.default}`"
        return f"| {names} | {_esc(help_text)} | {default} |"
    name = (param.metavar or param.name or "").upper()
    help_text = getattr(param, "help", None) or ""
    req = "required" if param.required else "optional"
    return f"| `{name}` | {_esc(help_text)} | {req} |"


def _command_md(cmd: Any, path: list[str], depth: int) -> list[str]:
    name = " ".join(path)
    out = [f"{'#' * depth} `{name}`", ""]
    if cmd.help:
        out += [cmd.help.strip(), ""]
    ctx = cmd.context_class(cmd, info_name=name)
    usage = " ".join(cmd.collect_usage_pieces(ctx))
    out += ["```text", f"{name} {usage}".rstrip(), "```", ""]
    params = [p for p in cmd.params if not getattr(p, "hidden", False)
              and p.name not in ("help", "install_completion", "show_completion")]
    if params:
        out += ["| argument / option | meaning | default |", "|---|---|---|"]
        out += [_param_row(p) for p in params]
        out.append("")
    if hasattr(cmd, "list_commands"):
        for sub_name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, sub_name)
            if sub is None or sub.hidden:
                continue
            out += _command_md(sub, [*path, sub_name], min(depth + 1, 4))
    return out


def _argparse_help(parser: Any) -> list[str]:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        text = parser.format_help()
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return ["```text", text.rstrip(), "```", ""]


def cli_reference() -> str:
    import typer

    from openim_cli.main import app
    from server_stub.config import build_parser
    from server_stub.ops import ops_parser

    root = typer.main.get_command(app)
    lines = _command_md(root, ["openim"], 2)
    server = build_parser()
    server.prog = "openim server"
    lines += ["## `openim server` options", "",
              "`openim server` hands its arguments to the server's own parser:", ""]
    lines += _argparse_help(server)
    for command in ("backup", "restore"):
        lines += [f"### `openim server {command}`", ""]
        lines += _argparse_help(ops_parser(command))
    return "\n".join(lines)


def tui_keys() -> str:
    from openim_tui.screens.help import binding_sections

    lines: list[str] = []
    for title, rows in binding_sections():
        lines += [f"## {title}", "", "| keys | action |", "|---|---|"]
        lines += [f"| {_esc(keys)} | {_esc(desc)} |" for keys, desc in rows]
        lines.append("")
    return "\n".join(lines)


def server_config() -> str:
    from server_stub.config_help import config_reference_markdown, undocumented

    missing = undocumented()
    if missing:  # a warning fails `mkdocs build --strict`
        import logging

        logging.getLogger("mkdocs.hooks.generate").warning(
            "ServerConfig fields without a description in server_stub/config_help.py: %s", ", ".join(missing))
    return config_reference_markdown()


GENERATORS = {"cli": cli_reference, "tui-keys": tui_keys, "server-config": server_config}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    for name, gen in GENERATORS.items():
        marker = f"<!-- generated: {name} -->"
        if marker in markdown:
            markdown = markdown.replace(marker, gen())
    return markdown
