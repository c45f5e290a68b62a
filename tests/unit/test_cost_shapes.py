"""What a job cost, read from either of Leonardo's shapes (adapters/leonardo.py `cost_of`): the
`cost` object (amount and unit) where Leonardo gives it, else the deprecated `apiCreditCost`. An
account billed in dollars answers `apiCreditCost: null`: its cost must still be recorded, or the
spend alarm could never fire."""

from __future__ import annotations

import pytest

from gencore.adapters.leonardo import cost_of
from gencore.domain.models import Cost
from gencore.leonardo.models import GenerationJob

pytestmark = pytest.mark.unit
DOLLARS = Cost(amount="0.0147", unit="DOLLARS")


@pytest.mark.parametrize(
    ("answer", "cost"),
    [
        # The documented example of an account billed in dollars.
        ({"apiCreditCost": None, "cost": {"amount": "0.0147", "unit": "DOLLARS"}}, DOLLARS),
        ({"apiCreditCost": 16, "cost": {"amount": "16", "unit": "CREDITS"}}, Cost(amount="16", unit="CREDITS")),  # noqa: E501
        ({"apiCreditCost": 0.024}, Cost(amount="0.024", unit="CREDITS")),  # no `cost`: the deprecated field
        ({"apiCreditCost": 7, "cost": {"amount": None, "unit": None}}, Cost(amount="7", unit="CREDITS")),
        ({"apiCreditCost": None}, None),
        ({"apiCreditCost": None, "cost": {"amount": "12", "unit": "EUROS"}}, None),  # a unit we do not know
    ],
    ids=["dollars", "credits in both", "credits only", "empty cost object", "nothing", "unknown unit"],
)  # fmt: skip
def test_the_cost_is_read_from_whichever_shape_leonardo_answers(answer, cost):
    job = GenerationJob.model_validate({"generationId": "g-1"} | answer)
    assert cost_of(job) == cost


def test_an_unreadable_amount_falls_back_to_the_credits_field():
    job = GenerationJob.model_validate(
        {"generationId": "g", "apiCreditCost": 3, "cost": {"amount": "n/a", "unit": "CREDITS"}}
    )
    assert cost_of(job) == Cost(amount="3", unit="CREDITS")


def test_a_cost_that_is_no_cost_is_dropped_rather_than_losing_the_generation():
    job = GenerationJob.model_validate({"generationId": "g", "apiCreditCost": -5})
    assert cost_of(job) is None
