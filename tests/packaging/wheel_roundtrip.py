"""Run inside the installed wheel's venv (not the checkout): two SDK clients, one message.

Usage: python wheel_roundtrip.py API_URL WS_URL DATA_DIR. Prints ``RECEIVED <text>`` on success.
"""

import asyncio
import sys
import uuid

from openim_sdk import events as ev
from openim_sdk.client import OpenIMClient
from openim_sdk.rest import RestClient


async def main(api: str, ws: str, data: str) -> None:
    a, b = f"wa{uuid.uuid4().hex[:6]}", f"wb{uuid.uuid4().hex[:6]}"
    admin = await RestClient.admin(api, "openIM123")
    async with admin:
        await admin.user.user_register(users=[{"userID": a, "nickname": "A"}, {"userID": b, "nickname": "B"}])
        ta, tb = await admin.mint_user_token(a), await admin.mint_user_token(b)
    async with OpenIMClient(api, ws, a, ta, data_dir=f"{data}/a") as ca, \
            OpenIMClient(api, ws, b, tb, data_dir=f"{data}/b") as cb:
        await asyncio.gather(ca.wait_synced(20), cb.wait_synced(20))
        got: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        @cb.on(ev.MessageReceived)
        def _on(e: ev.MessageReceived) -> None:
            if not e.is_self and not got.done():
                got.set_result(e.message.text)

        await ca.send_text(b, "hello from the wheel")
        print("RECEIVED", await asyncio.wait_for(got, 20), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
