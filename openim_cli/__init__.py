"""``openim``: the OpenIM command line.

Typer's rich help pulls in a Markdown renderer (~250 ms); plain help keeps ``openim --help``
fast, so it is off unless ``TYPER_USE_RICH=1`` is set. Tables and colours still use rich.
"""

import os

os.environ.setdefault("TYPER_USE_RICH", "0")
