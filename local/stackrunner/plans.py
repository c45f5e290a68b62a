"""The plans document of the test and bench stacks: the shipped plans (free, pro) plus `unlimited`,
their default, so that a token without a plan claim is held back by no cap, budget, rate or waiting
limit (suites and benches measure the pipeline, not the guardrails). `make run` keeps the shipped
document, whose default plan is `free`; a test of the guardrails names its plan in the token or
passes the shipped document (`PlansDocument: ""`)."""

from __future__ import annotations

import json

from gencore.domain.plans import default_plans_json

UNLIMITED = {
    "caps": {
        "max_images_per_request": 8, "max_width": 1536, "max_height": 1536, "max_prompt_length": 1500,
        "allowed_models": "*", "allowed_kinds": "*",
    },
    "budget": {"per_day": 10**12, "per_month": 10**12},
    "rate": {"per_second": 1000, "burst": 10_000},
    "max_waiting_jobs": 100_000,
    "max_queue_seconds": 7 * 86_400,
    "nsfw": "keep",
}  # fmt: skip


def unlimited_plans_json() -> str:
    document = json.loads(default_plans_json())
    document["plans"]["unlimited"] = UNLIMITED
    document["default_plan"] = "unlimited"
    return json.dumps(document, separators=(",", ":"))
