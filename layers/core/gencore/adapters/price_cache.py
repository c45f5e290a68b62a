"""The pricing calculator's cached answers, as items of the jobs table (domain/estimates.py).

- `PRICE#<key>` / `PRICE`: Leonardo's answer for one query (`service`, `params` as JSON, `amount` as
  a decimal string, absent when it had no price, `unit`, `priced_at`). Read by the API (GetItem),
  written by the reconciler (PutItem).
- `PRICE#WANTED` / `<key>`: a query waiting to be priced (`service`, `params`, `wanted_at`). The API
  records a miss with a conditional PutItem (once per key); the reconciler reads the partition
  (Query) and deletes each item once its answer is stored. One partition: misses are distinct
  parameter sets, few and far between.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from gencore.domain.estimates import CachedPrice, PricingQuery

WANTED_PK = "PRICE#WANTED"


def _price_key(key: str) -> dict[str, Any]:
    return {"pk": {"S": f"PRICE#{key}"}, "sk": {"S": "PRICE"}}


def _query_attributes(query: PricingQuery) -> dict[str, Any]:
    return {
        "service": {"S": query.service},
        "params": {"S": json.dumps(query.params, sort_keys=True, separators=(",", ":"))},
    }


class DynamoPriceCache:
    def __init__(self, client: Any, table: str) -> None:
        self._db, self._table = client, table

    def get(self, key: str) -> CachedPrice | None:
        item = self._db.get_item(TableName=self._table, Key=_price_key(key)).get("Item")
        if not item:
            return None
        amount = item.get("amount", {}).get("S")
        return CachedPrice(
            amount=Decimal(amount) if amount is not None else None,
            unit=item["unit"]["S"],
            priced_at=datetime.fromisoformat(item["priced_at"]["S"]),
        )

    def want(self, query: PricingQuery, now: datetime) -> None:
        item = {"pk": {"S": WANTED_PK}, "sk": {"S": query.key}, **_query_attributes(query)}
        item["wanted_at"] = {"S": now.isoformat()}
        try:
            self._db.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # already wanted: nothing to do

    def wanted(self, limit: int) -> list[PricingQuery]:
        answer = self._db.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": WANTED_PK}},
            Limit=limit,
        )
        return [
            PricingQuery(service=item["service"]["S"], params=json.loads(item["params"]["S"]))
            for item in answer.get("Items", [])
        ]

    def save(self, query: PricingQuery, price: CachedPrice) -> None:
        item = {**_price_key(query.key), **_query_attributes(query)}
        item |= {"unit": {"S": price.unit}, "priced_at": {"S": price.priced_at.isoformat()}}
        if price.amount is not None:
            item["amount"] = {"S": format(price.amount, "f")}
        self._db.put_item(TableName=self._table, Item=item)
        # Not atomic with the put: a crash in between leaves the query wanted, and it is priced
        # again (a free call), never lost.
        self._db.delete_item(TableName=self._table, Key={"pk": {"S": WANTED_PK}, "sk": {"S": query.key}})
