#!/usr/bin/env python3
"""CSV broadcast: send a message to every user listed in a CSV file, and report who did not get it.

    python examples/csv_broadcast.py recipients.csv --user news \
        --text "Hello {name}, the meeting moved to 3 pm."

The CSV has a header row. ``user_id`` (or ``userID``) is required; every other column can be used
in the text as ``{column}``. A ``text`` column, when filled in a row, replaces ``--text`` for that
row (and may use placeholders too)::

    user_id,name,text
    bob,Bob,
    dave,Dave,Dave: your badge is at the front desk.

It prints one progress line per recipient as the server answers, then a summary of the failures
with the server's reason (e.g. ``1302 BlockedByPeer``, or an unknown user ID). The exit code is 0
when everyone got the message, 1 when any send failed, 2 for a bad command line or CSV.
``--dry-run`` shows the messages without connecting.

Server and credentials: ``--api``/``OPENIM_API``, ``--ws``/``OPENIM_WS``, ``--token``/``OPENIM_TOKEN``
or the admin secret ``OPENIM_SECRET`` (default ``openIM123``) to mint a token for ``--user``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
import tempfile
from dataclasses import dataclass

from openim_sdk import OpenIMClient, OpenIMError, RestClient, explain


@dataclass
class Row:
    line: int  # in the CSV file, for the report
    user_id: str
    text: str = ""
    error: str = ""  # why it failed; "" = not failed (yet)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv", help="the recipients (a CSV file with a user_id column)")
    p.add_argument("--text", default="", help="the message; {column} is replaced by the row's value")
    p.add_argument("--api", default=os.environ.get("OPENIM_API", "http://127.0.0.1:10002"), help="REST API URL")
    p.add_argument("--ws", default=os.environ.get("OPENIM_WS", "ws://127.0.0.1:10001"), help="WebSocket URL")
    p.add_argument("--user", default=os.environ.get("OPENIM_USER", "broadcast"), help="the sender's user ID")
    p.add_argument("--token", default=os.environ.get("OPENIM_TOKEN"), help="a token for --user (else minted)")
    p.add_argument("--data-dir", default=None, help="the sender's cache (default: a temporary directory)")
    p.add_argument("--timeout", type=float, default=60, help="seconds to wait for the server per message")
    p.add_argument("--dry-run", action="store_true", help="print the messages, send nothing")
    return p.parse_args()


def read_rows(path: str, template: str) -> list[Row]:
    """The CSV's rows with their texts filled in; a row that cannot be filled carries its error."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        id_column = next((c for c in ("user_id", "userID") if c in columns), None)
        if id_column is None:
            raise ValueError(f"{path}: no user_id column (columns: {', '.join(columns) or 'none'})")
        if not template and "text" not in columns:
            raise ValueError("give --text or a text column")
        rows = []
        for record in reader:
            values = {k: (v or "").strip() for k, v in record.items() if k is not None}
            row = Row(reader.line_num, values[id_column])
            try:
                row.text = (values.get("text") or template).format_map(values)
            except KeyError as missing:
                row.error = f"the text uses {missing}, which is not a column"
            except (ValueError, IndexError) as bad:
                row.error = f"the text is not a valid template: {bad}"
            if not row.user_id:
                row.error = "no user ID"
            elif not row.text and not row.error:
                row.error = "empty text"
            rows.append(row)
        return rows


async def get_token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    admin = await RestClient.admin(args.api, secret=os.environ.get("OPENIM_SECRET", "openIM123"))
    async with admin:
        return await admin.mint_user_token(args.user)


async def broadcast(args: argparse.Namespace, rows: list[Row], data_dir: str) -> None:
    """Queue every message at once (the SDK sends a window of them at a time), then collect the
    server's answers in row order, printing progress as they come."""
    token = await get_token(args)
    async with OpenIMClient(args.api, args.ws, args.user, token, data_dir=data_dir) as client:
        try:  # raises the session's error should it end first (a refused token)
            await client.wait_synced(args.timeout)
        except TimeoutError:
            raise TimeoutError(f"not connected within {args.timeout:g} s") from None
        queued: dict[int, str] = {}  # row index -> clientMsgID
        for i, row in enumerate(rows):
            if row.error:
                continue
            try:
                queued[i] = (await client.send_text(row.user_id, row.text)).client_msg_id
            except OpenIMError as err:  # refused before sending, e.g. no such user
                row.error = explain(err)
        for i, row in enumerate(rows):
            if i in queued:
                try:
                    await client.wait_sent(queued[i], timeout=args.timeout)
                except OpenIMError as err:  # the server's refusal: err.code 1302, err.name "BlockedByPeer"…
                    row.error = explain(err)
                except TimeoutError:
                    row.error = f"no answer from the server within {args.timeout:g} s"
            status = f"FAILED: {row.error}" if row.error else "sent"
            print(f"[{i + 1}/{len(rows)}] {row.user_id or '(empty)'}: {status}", flush=True)


def main() -> int:
    args = parse_args()
    try:
        rows = read_rows(args.csv, args.text)
    except (OSError, ValueError, csv.Error) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        for row in rows:
            print(f"line {row.line} {row.user_id}: {row.error and 'FAILED: ' + row.error or row.text}")
        return 1 if any(row.error for row in rows) else 0
    try:
        if args.data_dir:
            asyncio.run(broadcast(args, rows, args.data_dir))
        else:
            with tempfile.TemporaryDirectory(prefix="openim-broadcast-") as tmp:
                asyncio.run(broadcast(args, rows, tmp))
    except (OpenIMError, TimeoutError) as err:  # could not log in / connect at all
        print(f"error: {err}", file=sys.stderr)
        return 1
    failed = [row for row in rows if row.error]
    print(f"sent {len(rows) - len(failed)} of {len(rows)}" + (f"; {len(failed)} failed:" if failed else ""))
    for row in failed:
        print(f"  line {row.line} {row.user_id or '(empty)'}: {row.error}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
