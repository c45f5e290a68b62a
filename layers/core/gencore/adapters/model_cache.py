"""The platform-model cache: one item in the jobs table (CACHE#MODELS / CACHE), written by the
reconciler (UpdateItem), read by the API (GetItem)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from gencore.domain.platform_models import ModelList, PlatformModel

MODELS_KEY = {"pk": {"S": "CACHE#MODELS"}, "sk": {"S": "CACHE"}}


class DynamoModelCache:
    def __init__(self, client: Any, table: str) -> None:
        self._db, self._table = client, table

    def load(self) -> ModelList | None:
        item = self._db.get_item(TableName=self._table, Key=MODELS_KEY).get("Item")
        if not item:
            return None
        models = tuple(PlatformModel(**model) for model in json.loads(item["models"]["S"]))
        return ModelList(models=models, refreshed_at=datetime.fromisoformat(item["refreshed_at"]["S"]))

    def save(self, models: ModelList) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=MODELS_KEY,
            UpdateExpression="SET models = :models, refreshed_at = :at",
            ExpressionAttributeValues={
                ":models": {"S": json.dumps([asdict(model) for model in models.models])},
                ":at": {"S": models.refreshed_at.isoformat()},
            },
        )
