"""Serve: ``python -m app`` (settings from SHOPINTENT_* variables).

On SIGTERM the server stops reporting ready at once, keeps accepting for ``SHOPINTENT_DRAIN_DELAY_S``
(1 s) while load balancers notice, then stops accepting, finishes the requests in flight and exits
within ``SHOPINTENT_GRACE_PERIOD_S``. SIGINT (Ctrl+C), or a second signal, skips the delay.

Exit status: 2 invalid settings, 3 the model did not start, 4 the engine's build does not suit this
CPU (its warm-up died of a signal in the pre-flight child, see ``app.doctor``).
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import uvicorn

from app.core.config import get_settings
from app.core.lifecycle import DRAINING
from app.core.logging import configure_logging


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain_delay_s: float) -> None:
        super().__init__(config)
        self.drain_delay_s = drain_delay_s

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        first = not DRAINING.is_set()
        DRAINING.set()  # /readyz answers 503 from now on; load balancers stop sending traffic
        if first and sig == signal.SIGTERM and self.drain_delay_s > 0:
            timer = threading.Timer(self.drain_delay_s, super().handle_exit, (sig, frame))
            timer.daemon = True
            timer.start()
            return
        super().handle_exit(sig, frame)


def main() -> int:
    try:
        settings = get_settings()
    except Exception as exc:  # invalid SHOPINTENT_* values: say which, exit non-zero
        print(f"shopintent: invalid configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    if settings.backend == "llamacpp":
        from app.backends.engine import engine_config

        try:  # settings that are valid alone but not together, or not for this model
            engine_config(settings)
        except (ValueError, FileNotFoundError) as exc:
            print(f"shopintent: invalid configuration: {exc}", file=sys.stderr)
            return 2
    if settings.preflight and settings.backend == "llamacpp":
        from app.doctor import preflight

        print("shopintent: checking that this CPU runs the engine (a warm-up in a child process)", flush=True)
        if (status := preflight()) != 0:
            return status
    shown = "localhost" if settings.host in ("0.0.0.0", "::") else settings.host
    print(f"shopintent: loading the model; API docs will be at http://{shown}:{settings.port}/docs", flush=True)
    config = uvicorn.Config(
        "app.main:create_app", factory=True, host=settings.host, port=settings.port, workers=1,
        log_config=None, access_log=False, timeout_graceful_shutdown=int(settings.grace_period_s),
    )
    server = DrainingServer(config, settings.drain_delay_s)
    server.run()
    if not server.started:  # start-up failed (bad model file, ...): the error was logged
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
