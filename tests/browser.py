"""How every browser test starts Chromium: Debian's binary, headless, with nothing reaching the network."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
# Background networking, component updates and sync would try hosts this machine cannot reach.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
