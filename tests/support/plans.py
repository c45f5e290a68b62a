"""Plans documents for tests: the shipped shape with the budgets (and anything else) a test sets."""

from __future__ import annotations

import json
from typing import Any

from gencore.domain.plans import PlansDocument

GENEROUS_CAPS = {
    "max_images_per_request": 8, "max_width": 1536, "max_height": 1536, "max_prompt_length": 1500,
    "allowed_models": "*", "allowed_kinds": "*",
}  # fmt: skip


def plan(budget: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "caps": GENEROUS_CAPS, "budget": budget, "rate": {"per_second": 1000, "burst": 10_000},
        "max_waiting_jobs": 10_000, "max_queue_seconds": 86_400, "nsfw": "keep",
    } | fields  # fmt: skip


def plans_document(default: str = "free", **budgets: dict[str, Any]) -> PlansDocument:
    """One plan per keyword (its budget), each otherwise generous; `default` is the default plan."""
    document = {
        "version": 1, "budget_unit": "CREDITS", "default_plan": default,
        "plans": {name: plan(budget) for name, budget in budgets.items()},
    }  # fmt: skip
    return PlansDocument.model_validate_json(json.dumps(document))
