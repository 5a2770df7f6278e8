"""Generate ``openim_sdk/rest/_generated.py``: one typed async method per REST route.

Usage: ``python scripts/gen_rest.py [OUTFILE]``. The methods are thin: they gather their
keyword arguments into a Go-style JSON body and hand it to the one hand-written call path
(``Transport.call``). A test regenerates this file and fails when the committed copy is stale.
"""

from __future__ import annotations

import keyword
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from google.protobuf.descriptor import Descriptor, FieldDescriptor  # noqa: E402

from openim_sdk.protocol.routes import ROUTES, Route  # noqa: E402

OUT = ROOT / "openim_sdk" / "rest" / "_generated.py"

_SCALARS = {
    FieldDescriptor.TYPE_STRING: "str",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_DOUBLE: "float",
    FieldDescriptor.TYPE_FLOAT: "float",
}
_WRAPPERS = {
    "StringValue": "str",
    "BytesValue": "bytes",
    "BoolValue": "bool",
    "DoubleValue": "float",
    "FloatValue": "float",
}

ACCESS_TEXT = {
    "none": "no token needed",
    "user": "any user token",
    "admin": "admin token only",
    "self_or_admin": "the user named in the request, or an admin",
}


def snake(name: str) -> str:
    """``userIDs`` -> ``user_ids``, ``faceURL`` -> ``face_url``, ``IsSyncSelf`` -> ``is_sync_self``."""
    s = re.sub(r"([A-Z]{2,})s(?=[A-Z]|$)", lambda m: m.group(1).capitalize() + "s", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()
    return s + "_" if keyword.iskeyword(s) or s in ("self", "body") else s


def module_alias(desc: Descriptor) -> str:
    pkg = desc.file.package.split(".")[-1]
    return "wrapperspb" if pkg == "protobuf" else pkg


def msg_type(desc: Descriptor, imports: set[str]) -> str:
    alias = module_alias(desc)
    imports.add(alias)
    # nested message names: Outer.Inner
    full = desc.full_name[len(desc.file.package) + 1 :]
    return f"{alias}_pb2.{full}"


def field_type(f: FieldDescriptor, imports: set[str]) -> str:
    if f.message_type is not None and f.message_type.GetOptions().map_entry:
        k = field_type(f.message_type.fields_by_name["key"], imports)
        v = field_type(f.message_type.fields_by_name["value"], imports)
        return f"Mapping[{k}, {v}]"
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        desc = f.message_type
        if desc.file.package == "openim.protobuf":
            base = _WRAPPERS.get(desc.name, "int")
        else:
            base = f"{msg_type(desc, imports)} | Mapping[str, Any]"
    elif f.type == FieldDescriptor.TYPE_ENUM:
        base = "int"
    else:
        base = _SCALARS.get(f.type, "int")
    if f.is_repeated:
        return f"Sequence[{base}]"
    return base


def method_for(route: Route, imports: set[str]) -> str:
    name = route.name
    doc_lines = [
        f"``{route.method} {route.path}`` ({ACCESS_TEXT[route.access]}).",
    ]
    if route.notes:
        doc_lines += ["", *textwrap.wrap(route.notes, 88)]
    if route.validation:
        doc_lines += ["", "Rejected with 1001 ArgsError when: " + "; ".join(route.validation) + "."]
    if route.response is not None:
        ret = msg_type(route.response.DESCRIPTOR, imports)
        if route.response_shape == "array":
            ret = f"list[{ret}]"
        elif route.response_shape == "custom":
            ret = f"{ret} | Any"
    else:
        ret = "Any"
    params: list[str] = []
    pairs: list[tuple[str, str]] = []
    if route.request is not None:
        seen: set[str] = set()
        for f in route.request.DESCRIPTOR.fields:
            py = snake(f.name)
            while py in seen:
                py += "_"
            seen.add(py)
            params.append(f"{py}: {field_type(f, imports)} | None = None")
            pairs.append((f.name, py))
        if route.request_name:
            doc_lines += ["", f"Request: ``{route.request_name}``."]
    if route.response_name:
        doc_lines += [f"Response: ``{route.response_name}``."]
    extra = "body: Mapping[str, Any] | None = None, " if route.request is None and not route.is_get else ""
    sig = ", ".join(["self", "*", *params]) if params else "self, *"
    sig += f", {extra}operation_id: str | None = None"
    doc = "\n".join(("        " + ln) if ln else "" for ln in doc_lines).lstrip()
    lines = [
        f"    async def {name}({sig}) -> {ret}:",
        f'        """{doc}\n        """',
    ]
    if route.request is not None:
        items = ", ".join(f'("{k}", {v})' for k, v in pairs)
        lines.append(f"        data = _body(({items},))" if pairs else "        data: dict[str, Any] = {}")
    elif route.is_get:
        lines.append("        data = None")
    else:
        lines.append("        data = dict(body or {})")
    lines.append(f'        result: {ret} = await self._t.call(route("{route.path}"), data, '
                 'operation_id=operation_id)')
    lines.append("        return result")
    # one-line `def` if it fits is not needed; keep uniform
    return "\n".join(lines)


def generate() -> str:
    imports: set[str] = set()
    classes: list[str] = []
    modules: dict[str, list[Route]] = {}
    for r in ROUTES:
        modules.setdefault(r.module, []).append(r)
    for module, routes in modules.items():
        cls = module.capitalize() + "API"
        body = [f"class {cls}(_Group):", f'    """The ``{module}`` routes ({len(routes)})."""', ""]
        body.append("\n\n".join(method_for(r, imports) for r in routes))
        classes.append("\n".join(body))
    header = [
        "# Generated by scripts/gen_rest.py from the route table. Do not edit.",
        '"""Typed async methods for every OpenIM REST route, grouped by module."""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping, Sequence",
        "from typing import TYPE_CHECKING, Any",
        "",
        "from ..protocol.routes import route",
        "",
        "if TYPE_CHECKING:",
        *[f"    from ..protocol.pb.{a} import {a}_pb2" for a in sorted(imports)],
        "    from ._transport import Transport",
        "",
        "",
        "def _body(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:",
        '    """The Go-style JSON body from (proto field name, value) pairs; None means absent."""',
        "    return {k: v for k, v in pairs if v is not None}",
        "",
        "",
        "class _Group:",
        "    def __init__(self, transport: Transport) -> None:",
        "        self._t = transport",
        "",
        "",
        "",
    ]
    mods = ", ".join(f'"{m}": {m.capitalize()}API' for m in modules)
    footer = ["", "", f"GROUPS: dict[str, type[_Group]] = {{{mods}}}", ""]
    return "\n".join(header) + "\n\n\n".join(classes) + "\n".join(footer)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out.write_text(generate())
