"""The webhook function checks the caller's address when LeonardoCallbackCidrs is set (docs/security.md):
API Gateway's `requestContext.http.sourceIp` against the configured CIDRs, 403 for any other."""

from __future__ import annotations

import pytest

from gencore.webhook_intake import intake

pytestmark = pytest.mark.integration

# events/webhook-callback.json comes from 203.0.113.10
CALLBACK = {
    "type": "image_generation.complete", "object": "generation", "timestamp": 1699490546932,
    "api_version": "v1",
    "data": {"object": {"id": "9f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "status": "COMPLETE", "images": []}},
}  # fmt: skip


@pytest.fixture
def sources(monkeypatch):
    def configure(cidrs: str) -> None:
        monkeypatch.setenv("LEONARDO_CALLBACK_CIDRS", cidrs)
        intake.cache_clear()

    yield configure
    intake.cache_clear()


def test_a_callback_from_outside_the_configured_sources_is_403_and_queues_nothing(pipeline, sources):
    sources("35.173.108.170/32,34.239.69.60/32")
    status, body = pipeline.webhook(CALLBACK)
    assert (status, body["error"]["code"]) == (403, "forbidden_source")
    assert pipeline.receive("EventsQueue") == []


def test_a_callback_from_a_configured_source_is_accepted(pipeline, sources):
    sources("35.173.108.170/32, 203.0.113.0/24")
    status, body = pipeline.webhook(CALLBACK)
    assert (status, body) == (202, {"status": "accepted"})
    assert len(pipeline.receive("EventsQueue")) == 1
