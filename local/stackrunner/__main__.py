"""`python -m stackrunner` (= `make run`): the whole system in the foreground until Ctrl-C."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from stackrunner.stack import LocalStack, StackConfig


def banner(stack: LocalStack) -> str:
    cfg = stack.config
    leonardo = (
        stack.simulator.base_url if stack.simulator else (cfg.leonardo_base_url or "the real Leonardo API")
    )
    return "\n".join(
        [
            "",
            "  Local stack is up (Ctrl-C stops it)",
            f"    API            {stack.api_url}",
            f"    local AWS      {stack.aws_endpoint}   (AWS_ENDPOINT_URL; credentials testing/testing)",
            f"    Leonardo       {leonardo}",
            f"    Leonardo key   {cfg.leonardo_api_key if stack.simulator else '(from LEONARDO_API_KEY)'}",
            f"    webhook key    {cfg.webhook_key}",
            "",
            "  A token:  make token USER=alice",
            "  Try it:",
            f"    curl -s -X POST {stack.api_url}/v1/generations \\",
            '      -H "Authorization: Bearer $(make -s token USER=alice)" \\',
            "      -H 'content-type: application/json' \\",
            """      -d '{"prompt": "a lighthouse at dawn", "width": 512, "height": 512, "num_images": 1}'""",
            "  Events on the local bus:  python -m stackrunner events 20   (or GET /_local/events)",
            "",
        ]
    )


def main() -> int:
    if sys.argv[1:2] == ["events"]:  # the last events on a running stack's bus (stackrunner/bus.py)
        from stackrunner.bus import main as events

        return events(sys.argv[2:])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("botocore", "urllib3", "werkzeug", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    with LocalStack(StackConfig.from_env()) as stack:
        print(banner(stack), flush=True)
        stopping.wait()
        logging.getLogger("stackrunner").info("stopping...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
