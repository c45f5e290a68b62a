"""Our account's generations as Leonardo lists them (`GET /generations/user/{userId}`): read back by
time for the orphan sweep, and searched for the generation of an unanswered POST.

Leonardo has no idempotency key: an unanswered POST is recognised by what it asked for, compared on
every field the list echoes (the seed, ours per job, makes it specific). Mixed into LeonardoGateway,
whose `_as_account` and `_user_id` it uses.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from gencore.domain.errors import LeonardoBusy, LookupIncomplete
from gencore.domain.kinds import LeonardoCall
from gencore.domain.ports import RemoteSummary
from gencore.leonardo import LeonardoError
from gencore.leonardo.models import Generation, GenerationRequest

# Looking for the generation of an unanswered POST pages back through the account's list (newest
# first, by createdAt: the order the contract tests pin) until a whole page is older than the POST.
LOOKUP_PAGE = 50
LOOKUP_MAX_PAGES = 20
CLOCK_SKEW = timedelta(seconds=30)  # between our clock and Leonardo's createdAt


class AccountListing:
    _user_id: str | None
    _as_account: Callable[..., Any]

    def recent_generations(self, *, since: datetime, limit_pages: int) -> list[RemoteSummary]:
        """The account's generations created since `since`, newest first (at most `limit_pages`)."""
        listed, _ = self._listed_since(since, max_pages=limit_pages)
        summaries = [
            RemoteSummary(id=g.id, created_at=_parse_time(g.created_at), status=g.status) for g in listed
        ]
        return sorted(summaries, key=lambda g: g.created_at, reverse=True)

    def _listed_since(self, since: datetime, *, max_pages: int) -> tuple[list[Generation], bool]:
        """The account's generations created since `since` (less the clock skew), and whether the
        list was read back that far within `max_pages`.

        Pages newest first by createdAt (the order the contract tests pin) until a whole page is
        older than the window; an id repeated across pages (new generations shift the offsets) is
        kept once.
        """
        earliest = since - CLOCK_SKEW
        found: dict[str, Generation] = {}
        try:
            user_id = self._account_user_id()
            for page in range(max_pages):
                batch = self._as_account(
                    lambda client, page=page: client.list_user_generations(
                        user_id, offset=page * LOOKUP_PAGE, limit=LOOKUP_PAGE
                    )
                )
                found |= {g.id: g for g in batch if _parse_time(g.created_at) >= earliest}
                if len(batch) < LOOKUP_PAGE or all(_parse_time(g.created_at) < earliest for g in batch):
                    return list(found.values()), True
        except LeonardoError as error:
            raise LeonardoBusy(error.message, retry_after=getattr(error, "retry_after", None)) from error
        return list(found.values()), False

    def _account_user_id(self) -> str:
        if self._user_id is None:
            self._user_id = self._as_account(lambda client: client.me()).user_id
        return self._user_id

    def request_fingerprint(self, call: LeonardoCall) -> str:
        echoed = _echoed(GenerationRequest.model_validate(call.body))
        return hashlib.sha256(json.dumps(echoed, sort_keys=True).encode()).hexdigest()[:32]

    def find_generations(self, call: LeonardoCall, *, since: datetime) -> list[str]:
        """Our account's generations echoing `call`, created since `since`, oldest first.

        Leonardo has no idempotency key: an unanswered POST is recognised by what it asked for,
        compared on every field the list echoes (the seed, ours per job, makes it specific).
        """
        wanted = _echoed(GenerationRequest.model_validate(call.body))
        listed, complete = self._listed_since(since, max_pages=LOOKUP_MAX_PAGES)
        if not complete:
            raise LookupIncomplete(
                f"more than {LOOKUP_PAGE * LOOKUP_MAX_PAGES} generations since the unanswered POST"
            )
        matches = [g for g in listed if _matches(g, wanted)]
        return [g.id for g in sorted(matches, key=lambda g: _parse_time(g.created_at))]


def _echoed(wanted: GenerationRequest) -> dict[str, Any]:
    """The fields of a request that Leonardo's list echoes back (only those we set)."""
    fields = {
        "prompt": wanted.prompt,
        "negative_prompt": wanted.negative_prompt or None,
        "model_id": wanted.model_id,
        "width": wanted.width,
        "height": wanted.height,
        "seed": wanted.seed,
        "guidance_scale": wanted.guidance_scale,
        "inference_steps": wanted.num_inference_steps,
        "init_strength": wanted.init_strength,
        "photo_real": wanted.photo_real,
        "preset_style": wanted.preset_style,
        "public": bool(wanted.public),
    }
    return {k: v for k, v in fields.items() if v is not None}


def _matches(generation: Generation, wanted: dict[str, Any]) -> bool:
    seen = {
        "prompt": generation.prompt,
        "negative_prompt": generation.negative_prompt or None,
        "model_id": generation.model_id,
        "width": generation.image_width,
        "height": generation.image_height,
        "seed": generation.seed,
        "guidance_scale": generation.guidance_scale,
        "inference_steps": generation.inference_steps,
        "init_strength": generation.init_strength,
        "photo_real": bool(generation.photo_real),
        "preset_style": generation.preset_style,
        "public": bool(generation.public),
    }
    for name, value in wanted.items():
        echoed = seen[name]
        if isinstance(value, float) and isinstance(echoed, int | float):
            if not math.isclose(value, echoed, abs_tol=1e-6):
                return False
        elif echoed != value:
            return False
    # A negative prompt we did not send means another request.
    return "negative_prompt" in wanted or not seen["negative_prompt"]


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # Hasura omits the zone at times
