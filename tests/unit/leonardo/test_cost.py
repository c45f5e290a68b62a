"""What a create answer cost, read from either of Leonardo's shapes: `cost` (a decimal string and
its unit) where Leonardo gives a readable one, else the deprecated `apiCreditCost` as CREDITS.
A cost we cannot read is no cost: it never makes the answer of a paid call unreadable."""

from decimal import Decimal

import pytest

from gencore.leonardo.models import Cost, GenerationJob
from gencore.leonardo.tools import PromptGeneration, VariationJob

pytestmark = pytest.mark.unit

ANSWERS = {
    GenerationJob: {"generationId": "g-1"},
    VariationJob: {"id": "v-1"},
    PromptGeneration: {"prompt": "a fox"},
}


@pytest.mark.parametrize(
    ("priced", "cost"),
    [
        ({"apiCreditCost": None, "cost": {"amount": "0.0147", "unit": "DOLLARS"}}, Cost(amount=Decimal("0.0147"), unit="DOLLARS")),  # noqa: E501
        ({"apiCreditCost": 16, "cost": {"amount": "16", "unit": "CREDITS"}}, Cost(amount=Decimal(16), unit="CREDITS")),  # noqa: E501
        ({"apiCreditCost": 0.024}, Cost(amount=Decimal("0.024"), unit="CREDITS")),
        ({"apiCreditCost": 7, "cost": {"amount": None, "unit": None}}, Cost(amount=Decimal(7), unit="CREDITS")),  # noqa: E501
        ({"apiCreditCost": 3, "cost": {"amount": "n/a", "unit": "CREDITS"}}, Cost(amount=Decimal(3), unit="CREDITS")),  # noqa: E501
        ({"apiCreditCost": 2, "cost": {"amount": "12", "unit": "EUROS"}}, Cost(amount=Decimal(2), unit="CREDITS")),  # noqa: E501
        ({"cost": {"amount": 12.5, "unit": "CREDITS"}}, Cost(amount=Decimal("12.5"), unit="CREDITS")),
        ({"apiCreditCost": None}, None),
        ({}, None),
        ({"apiCreditCost": -5}, None),
        ({"apiCreditCost": "lots", "cost": "free"}, None),
        ({"cost": {"amount": "NaN", "unit": "DOLLARS"}}, None),
    ],
    ids=["dollars", "credits in both", "credits only", "empty cost object", "unreadable amount",
         "unknown unit", "numeric amount", "null", "absent", "negative", "not a cost at all", "nan"],
)  # fmt: skip
@pytest.mark.parametrize("model", list(ANSWERS), ids=lambda m: m.__name__)
def test_every_create_answer_reads_its_cost_from_either_shape(model, priced, cost):
    answer = model.model_validate(ANSWERS[model] | priced)
    assert answer.cost == cost


def test_the_deprecated_field_stays_readable_as_it_was_sent():
    job = GenerationJob.model_validate({"generationId": "g", "apiCreditCost": 0.024})
    assert job.api_credit_cost == pytest.approx(0.024)
    assert str(job.cost.amount) == "0.024" and job.cost.unit == "CREDITS"


def test_a_whole_number_of_credits_has_no_fraction():
    job = GenerationJob.model_validate({"generationId": "g", "apiCreditCost": 7})
    assert str(job.cost.amount) == "7"


def test_the_cost_object_keeps_its_wire_name_when_dumped():
    job = GenerationJob.model_validate({"generationId": "g", "cost": {"amount": "1.5", "unit": "DOLLARS"}})
    assert job.model_dump(by_alias=True)["cost"] == {"amount": "1.5", "unit": "DOLLARS"}
