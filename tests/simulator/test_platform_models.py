"""GET /platformModels: a small fixed catalogue with the document's default model, a Phoenix and a
Flux model, each request counted (so tests can prove a cache is used)."""

from __future__ import annotations

import pytest

from leonardo_simulator.catalog import PLATFORM_MODELS

from .helpers import client

pytestmark = pytest.mark.integration
ROUTE = "GET /api/rest/v1/platformModels"


def test_the_catalogue_has_the_default_a_phoenix_and_a_flux_model(sim):
    with client(sim) as c:
        models = c.get("/platformModels").json()["custom_models"]
    names = {m["id"]: m["name"] for m in models}
    assert names["b24e16ff-06e3-43eb-8d33-4416c2d75876"] == "Leonardo Lightning XL"
    assert any("Phoenix" in name for name in names.values())
    assert any(name.startswith("Flux") for name in names.values())
    assert [m["id"] for m in models] == [m.id for m in PLATFORM_MODELS]  # fixed order


def test_the_catalogue_is_the_same_every_time_and_each_read_is_counted(sim):
    with client(sim) as c:
        first, second = (c.get("/platformModels").json() for _ in range(2))
    assert first == second and sim.stats()["requests"][ROUTE] == 2
