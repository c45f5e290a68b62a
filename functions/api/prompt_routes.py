"""Routes of /v1/prompts: Leonardo's prompt tools, answered synchronously (paid, rate limited)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from gencore import wiring
from gencore.observability import MetricUnit, metrics
from gencore.views import ON_FIRST_USE, caller_id

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # powertools leaves __init__ unannotated


class ImprovePromptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=True)

    prompt: str = Field(min_length=1, max_length=1500)
    instructions: str | None = Field(default=None, min_length=1, max_length=1500)


class PromptView(BaseModel):
    model_config = ON_FIRST_USE

    prompt: str


@router.post("/v1/prompts/improve")
def improve_prompt(request: ImprovePromptRequest) -> PromptView:
    """The prompt rewritten with more detail (429 `rate_limited` past the per-user limit)."""
    answer = wiring.prompts().improve(caller_id(router.current_event), request.prompt, request.instructions)
    metrics.add_metric(name="PromptToolCalls", unit=MetricUnit.Count, value=1)
    return PromptView(prompt=answer.prompt)


@router.post("/v1/prompts/random")
def random_prompt() -> PromptView:
    """A random prompt, to start from (429 `rate_limited` past the per-user limit)."""
    answer = wiring.prompts().random(caller_id(router.current_event))
    metrics.add_metric(name="PromptToolCalls", unit=MetricUnit.Count, value=1)
    return PromptView(prompt=answer.prompt)
