"""Process-wide lifecycle flags."""

from __future__ import annotations

import threading

DRAINING = threading.Event()  # set on SIGTERM (see app.__main__): /readyz turns 503 at once
