"""The realtime canvas's use case (domain/realtime.py), read as a specification, on in-memory fakes:
the caller's own bucket and the content policy come first, the call's estimate is reserved before
anything is sent, the call is sent once; its reservation is settled at what Leonardo reports,
released when Leonardo provably did nothing, settled at the estimate when the answer was lost."""

from __future__ import annotations

import base64
import io
from decimal import Decimal

import pytest
from PIL import Image
from pydantic import ValidationError

from gencore.domain.errors import ContentPolicyViolation, LeonardoBusy, LeonardoRejected, SubmitOutcomeUnknown
from gencore.domain.ledger import BudgetExceeded
from gencore.domain.models import Cost, Upload, UploadStatus
from gencore.domain.plans import Budget
from gencore.domain.rate_limits import BucketLimit, RateLimited, TokenBuckets
from gencore.domain.realtime import CallerPlan, InpaintRequest, Realtime, RealtimeRequest, UpscaleRequest
from tests.support.fakes import FakeBucketStore, FakeClock

pytestmark = pytest.mark.unit
PLAN = CallerPlan("pro", Budget(per_day=Decimal(100), per_month=Decimal(1000)))


def data_url(color=(10, 120, 200), fmt="JPEG") -> str:
    data = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(data, format=fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(data.getvalue()).decode()


class Canvas:
    def __init__(self, *answers) -> None:
        self.answers, self.calls = list(answers), []

    def realtime(self, route, body):
        self.calls.append((route, body))
        answer = (
            self.answers.pop(0) if self.answers else ([data_url((1, 2, 3))], Cost(amount="1", unit="CREDITS"))
        )
        if isinstance(answer, BaseException):
            raise answer
        return answer


class Ledger:
    """Reservations and settlements, with a budget that can refuse (as the store's condition does)."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse, self.reserved, self.spent, self.events = refuse, Decimal(0), Decimal(0), []

    def reserve(self, user_id, charge, budget, *, plan):
        if self.refuse:
            raise BudgetExceeded("over", period="day", remaining=Decimal(0), unit="CREDITS", resets_at=None)
        self.reserved += Decimal(charge.estimate)
        self.events.append(("reserve", charge.estimate))

    def settle(self, user_id, charge, amount):
        self.reserved -= Decimal(charge.estimate)
        self.spent += amount or Decimal(0)
        self.events.append(("settle", amount))


class Keeper:
    def __init__(self) -> None:
        self.kept = []

    def keep(self, user_id, content_type, data):
        self.kept.append((content_type, data[:3]))
        now = FakeClock()()
        return Upload(id=f"u{len(self.kept)}", user_id=user_id, status=UploadStatus.READY,
                      content_type=content_type, key="k", created_at=now, updated_at=now)  # fmt: skip


class Content:
    def check(self, plan, request):
        if "forbidden" in request["prompt"]:
            raise ContentPolicyViolation("explicit", "prompt")


def realtime(canvas=None, ledger=None, keeper=None, capacity=5) -> tuple[Realtime, Canvas, Ledger, Keeper]:
    canvas, ledger, keeper = canvas or Canvas(), ledger or Ledger(), keeper or Keeper()
    clock = FakeClock()
    buckets = TokenBuckets(FakeBucketStore(), clock)
    limit = BucketLimit(capacity=capacity, per_second=0.001)
    return Realtime(canvas, buckets, ledger, keeper, clock, limit, content=Content()), canvas, ledger, keeper


def request(**fields) -> RealtimeRequest:
    return RealtimeRequest(image=data_url(), prompt="a fox", **fields)


def test_a_call_is_sent_once_in_leonardos_names_and_settled_at_what_leonardo_reports():
    use, canvas, ledger, _ = realtime(canvas=Canvas(([data_url()], Cost(amount="3", unit="CREDITS"))))
    answer = use.run("alice", PLAN, "generate", request(width=1024, steps=6, strength=0.5))
    [(route, body)] = canvas.calls
    assert route == "/generations-lcm" and body["imageDataUrl"].startswith("data:image/jpeg")
    assert (body["width"], body["steps"], body["strength"], "keep" in body) == (1024, 6, 0.5, False)
    assert answer.cost.amount == "3" and answer.kept == []
    assert ledger.events == [("reserve", "2"), ("settle", Decimal(3))] and ledger.reserved == 0


@pytest.mark.parametrize(
    ("operation", "body", "route", "extra"),
    [
        ("refine", request(), "/lcm-instant-refine", set()),
        ("inpaint", InpaintRequest(image=data_url(), mask=data_url(fmt="PNG"), prompt="a hat"),
         "/lcm-inpainting", {"maskDataUrl"}),
        ("upscale", UpscaleRequest(image=data_url(), prompt="x", refine_creative=True, refine_strength=0.7),
         "/lcm-upscale", {"refineCreative", "refineStrength"}),
    ],
)  # fmt: skip
def test_each_operation_is_its_own_route(operation, body, route, extra):
    use, canvas, _, _ = realtime()
    use.run("alice", PLAN, operation, body)
    [(sent_route, sent)] = canvas.calls
    assert sent_route == route and extra <= set(sent)


def test_over_budget_nothing_is_sent():
    use, canvas, _, _ = realtime(ledger=Ledger(refuse=True))
    with pytest.raises(BudgetExceeded):
        use.run("alice", PLAN, "generate", request())
    assert canvas.calls == []


def test_the_callers_own_bucket_refuses_before_anything_else():
    use, canvas, ledger, _ = realtime(capacity=2)
    use.run("alice", PLAN, "generate", request())
    use.run("alice", PLAN, "generate", request())
    with pytest.raises(RateLimited):
        use.run("alice", PLAN, "generate", request())
    assert len(canvas.calls) == 2 and len(ledger.events) == 4
    use.run("bob", PLAN, "generate", request())  # another user's bucket is their own


def test_a_refused_prompt_costs_nothing():
    use, canvas, ledger, _ = realtime()
    with pytest.raises(ContentPolicyViolation):
        use.run("alice", PLAN, "generate", RealtimeRequest(image=data_url(), prompt="something forbidden"))
    assert canvas.calls == [] and ledger.events == []


def test_a_lost_answer_is_settled_at_the_estimate_and_never_sent_again():
    use, canvas, ledger, _ = realtime(canvas=Canvas(SubmitOutcomeUnknown("read timeout after sending")))
    with pytest.raises(SubmitOutcomeUnknown):
        use.run("alice", PLAN, "generate", request())
    assert len(canvas.calls) == 1 and ledger.spent == 1 and ledger.reserved == 0


@pytest.mark.parametrize("refusal", [LeonardoBusy("429", retry_after=1), LeonardoRejected("bad picture")])
def test_a_call_leonardo_provably_did_not_do_is_released(refusal):
    use, _, ledger, _ = realtime(canvas=Canvas(refusal))
    with pytest.raises(type(refusal)):
        use.run("alice", PLAN, "generate", request())
    assert ledger.spent == 0 and ledger.reserved == 0


def test_keep_stores_each_picture_as_an_upload():
    use, _, _, keeper = realtime(canvas=Canvas(([data_url(), data_url(fmt="PNG")], None)))
    answer = use.run("alice", PLAN, "generate", request(keep=True))
    assert [u.id for u in answer.kept] == ["u1", "u2"]
    assert [k[0] for k in keeper.kept] == ["image/jpeg", "image/png"]
    assert answer.cost.source == "estimate"  # Leonardo reported no cost: the estimate counts


@pytest.mark.parametrize(
    "image",
    [
        "https://example.com/fox.jpg",
        "data:image/gif;base64,R0lGODlhAQABAAAAACw=",
        "data:image/jpeg;base64,not base64!",
        "data:image/png;base64," + base64.b64encode(b"\xff\xd8\xff\xe0 a jpeg").decode(),  # type mismatch
        "data:image/jpeg;base64," + "A" * (3 * 1024 * 1024),
    ],
    ids=["a url", "a gif", "not base64", "type mismatch", "too large"],
)
def test_a_picture_is_a_jpeg_or_png_data_url_its_bytes_agree_with(image):
    with pytest.raises(ValidationError):
        RealtimeRequest(image=image, prompt="x")


def test_pictures_too_large_for_an_answer_are_kept_and_answered_by_link(monkeypatch):
    import gencore.domain.realtime as realtime_module

    monkeypatch.setattr(realtime_module, "MAX_ANSWER_PICTURES_BYTES", 100)
    use, _, _, keeper = realtime()
    answer = use.run("alice", PLAN, "generate", request())
    assert answer.by_link and answer.pictures == [] and len(answer.kept) == 1 == len(keeper.kept)
