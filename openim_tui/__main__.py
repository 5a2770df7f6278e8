"""``python -m openim_tui [--profile NAME] [--api URL --ws URL --user ID --token TOKEN]``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m openim_tui", description="OpenIM terminal chat")
    p.add_argument("--profile", "-p", help="stored session (openim login); env OPENIM_PROFILE")
    p.add_argument("--api", help="REST API URL, e.g. http://127.0.0.1:10002")
    p.add_argument("--ws", help="WebSocket URL, e.g. ws://127.0.0.1:10001")
    p.add_argument("--user", help="user ID")
    p.add_argument("--token", help="user token")
    p.add_argument("--platform", type=int, help="platform ID (default 7)")
    p.add_argument("--data-dir", help="local cache directory")
    a = p.parse_args(argv)
    from . import run_chat
    from .config import ConfigError

    try:
        run_chat(a.profile, api=a.api, ws=a.ws, user=a.user, token=a.token, platform=a.platform,
                 data_dir=a.data_dir)
    except ConfigError as exc:
        print(f"openim chat: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
