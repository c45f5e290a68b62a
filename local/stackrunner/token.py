"""Print a JWT the local stack accepts: `python -m stackrunner.token alice --plan free`
(= `make token USER=alice PLAN=free`).

Prints only the token, so `TOKEN=$(make -s token USER=alice)` works. `--plan` puts the user's plan
in the claim the API reads it from: `--plan-claim`, by default the template's `PlanClaim` parameter
(`plan` when the template has none); without `--plan` the token has no plan claim (the default plan).
"""

from __future__ import annotations

import argparse
import os
import sys

from stackrunner.issuer import REPO_ROOT, LocalIssuer
from stackrunner.template import Template

PLAN_CLAIM = "plan"  # the API's default name for the claim that names a user's plan


def local_issuer_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackrunner.token", description=__doc__)
    parser.add_argument("user", help="the sub claim")
    parser.add_argument("--ttl", type=int, default=3600, help="seconds until exp (default 3600)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")), help="API port")
    parser.add_argument("--template", default=str(REPO_ROOT / "template.yaml"))
    parser.add_argument("--claim", action="append", default=[], metavar="K=V", help="extra claim")
    parser.add_argument("--plan", help="the user's plan (e.g. free, pro), put in the plan claim")
    parser.add_argument("--plan-claim", help=f"the plan claim's name (default: PlanClaim, or {PLAN_CLAIM!r})")
    args = parser.parse_args(argv)
    parameters = Template(args.template).parameters
    audience = parameters.get("JwtAudience", ["leonardo-backend"])
    extra = dict(c.split("=", 1) for c in args.claim)
    if args.plan:
        extra[args.plan_claim or parameters.get("PlanClaim") or PLAN_CLAIM] = args.plan
    issuer = LocalIssuer(local_issuer_url(args.port), audience)
    print(issuer.token(args.user, ttl_seconds=args.ttl, **extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
