"""A child process for the two-processes-one-profile test: one OpenIMClient on a shared data dir.

argv: api_url ws_url user_id token data_dir count. Prints ``READY`` once synced, then one JSON
line with the texts of the first ``count`` live messages from others it was shown, and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys

from openim_sdk import events as ev
from openim_sdk.client import OpenIMClient


async def main(api_url: str, ws_url: str, user_id: str, token: str, data_dir: str, count: int) -> None:
    async with OpenIMClient(api_url, ws_url, user_id, token, data_dir=data_dir, platform_id=7,
                            backoff=(0.05, 0.1, 0.2)) as client:
        events = client.events()
        await client.wait_synced(20)
        print("READY", flush=True)
        texts: list[str] = []
        async for e in events:
            if isinstance(e, ev.MessageReceived) and not e.is_self:
                texts.append(e.message.text)
                if len(texts) >= count:
                    break
        print(json.dumps(texts), flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(a[0], a[1], a[2], a[3], a[4], int(a[5])))
