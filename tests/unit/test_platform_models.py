"""The platform-model list, read as a specification: served from a cache, refreshed by the
reconciler once it is old, never emptied by an empty or failed answer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gencore.domain.errors import LeonardoBusy
from gencore.domain.platform_models import ModelList, PlatformModel, PlatformModels
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.unit
LIGHTNING = PlatformModel(id="b24e16ff-06e3-43eb-8d33-4416c2d75876", name="Leonardo Lightning XL")
PHOENIX = PlatformModel(id="6b645e3a-d64f-4341-a6d8-7a3690fbf042", name="Leonardo Phoenix")


class Cache:
    def __init__(self) -> None:
        self.stored: ModelList | None = None
        self.loads = 0

    def load(self) -> ModelList | None:
        self.loads += 1
        return self.stored

    def save(self, models: ModelList) -> None:
        self.stored = models


class Leonardo:
    def __init__(self, *answers) -> None:
        self.answers, self.calls = list(answers), 0

    def platform_models(self):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_before_the_first_refresh_the_list_is_empty_and_names_are_unknown(clock):
    models = PlatformModels(Cache(), clock)
    assert models.list() == [] and models.name_of(LIGHTNING.id) is None


def test_a_refresh_fills_the_cache_and_reads_are_served_from_it(clock):
    cache, leonardo = Cache(), Leonardo([LIGHTNING, PHOENIX])
    models = PlatformModels(cache, clock, memo_seconds=0)
    assert models.refresh(leonardo)
    assert models.list() == [LIGHTNING, PHOENIX] and models.name_of(PHOENIX.id) == "Leonardo Phoenix"
    assert leonardo.calls == 1


def test_leonardo_is_asked_again_only_once_the_cache_is_old(clock):
    cache, leonardo = Cache(), Leonardo([LIGHTNING], [LIGHTNING, PHOENIX])
    models = PlatformModels(cache, clock, refresh_seconds=3600)
    models.refresh(leonardo)
    clock.advance(3599)
    assert not models.refresh(leonardo) and leonardo.calls == 1
    clock.advance(2)
    assert models.refresh(leonardo) and leonardo.calls == 2


@pytest.mark.parametrize("answer", [[], LeonardoBusy("503")], ids=["empty answer", "Leonardo busy"])
def test_an_empty_or_failed_answer_keeps_the_list_it_had(clock, answer):
    cache = Cache()
    models = PlatformModels(cache, clock, memo_seconds=0)
    models.refresh(Leonardo([LIGHTNING]))
    clock.advance(timedelta(hours=2).total_seconds())
    assert not models.refresh(Leonardo(answer))
    assert models.list() == [LIGHTNING]


def test_a_warm_function_reads_the_cache_once_per_memo_period(clock):
    cache = Cache()
    models = PlatformModels(cache, clock, memo_seconds=300)
    for _ in range(5):
        models.name_of(LIGHTNING.id)
    assert cache.loads == 1
