"""Routes of /v1/models: Leonardo's platform models, from the cache the reconciler refreshes."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from gencore import wiring
from gencore.views import ON_FIRST_USE

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # powertools leaves __init__ unannotated


class ModelView(BaseModel):
    model_config = ON_FIRST_USE

    id: str
    name: str
    description: str | None
    featured: bool | None


class ModelPage(BaseModel):
    model_config = ON_FIRST_USE

    items: list[ModelView]


@router.get("/v1/models")
def list_models() -> ModelPage:
    """The models a job may name (`model_id`); no Leonardo call: read from the hourly cache."""
    models = wiring.platform_models().list()
    return ModelPage(
        items=[
            ModelView(id=m.id, name=m.name, description=m.description, featured=m.featured) for m in models
        ]
    )
