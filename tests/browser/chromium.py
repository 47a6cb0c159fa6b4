"""Debian's Chromium as the browser tests and bench/pwa.py launch it (never a downloaded build)."""
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# The last two flags: headless Chromium 156 otherwise builds its address bar's two WebUI popups in a renderer
# of their own for every new context (about 0.15 s of a core each time) and emulates a GPU in software; no
# page can see the difference.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup", "--disable-gpu"]
