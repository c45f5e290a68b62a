"""Print a JWT the local stack accepts: `python -m stackrunner.token alice` (= `make token USER=alice`).

Prints only the token, so `TOKEN=$(make -s token USER=alice)` works.
"""

from __future__ import annotations

import argparse
import os
import sys

from stackrunner.issuer import REPO_ROOT, LocalIssuer
from stackrunner.template import Template


def local_issuer_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackrunner.token", description=__doc__)
    parser.add_argument("user", help="the sub claim")
    parser.add_argument("--ttl", type=int, default=3600, help="seconds until exp (default 3600)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")), help="API port")
    parser.add_argument("--template", default=str(REPO_ROOT / "template.yaml"))
    parser.add_argument("--claim", action="append", default=[], metavar="K=V", help="extra claim")
    args = parser.parse_args(argv)
    audience = Template(args.template).parameters.get("JwtAudience", ["leonardo-backend"])
    extra = dict(c.split("=", 1) for c in args.claim)
    issuer = LocalIssuer(local_issuer_url(args.port), audience)
    print(issuer.token(args.user, ttl_seconds=args.ttl, **extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
