"""The sample events in events/ (for `sam local invoke` and the tests) stay true to the template:
each API event names a route the template declares, with the path parameters that route has."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.template import load_template

pytestmark = pytest.mark.unit
TEMPLATE = load_template()
ROUTES = {
    f"{event['Properties']['Method']} {event['Properties']['Path']}"
    for resource in TEMPLATE["Resources"].values()
    if resource["Type"] == "AWS::Serverless::Function"
    for event in resource["Properties"].get("Events", {}).values()
    if event["Type"] == "HttpApi"
}
API_EVENTS = sorted(Path("events").glob("api-*.json"))


def test_every_route_has_a_sample_event_and_every_sample_a_route():
    keys = {json.loads(path.read_text())["routeKey"] for path in API_EVENTS}
    assert keys <= ROUTES
    assert (
        not {
            "GET /v1/models",
            "POST /v1/generations/{job_id}/cancel",
            "DELETE /v1/generations/{job_id}",
            "POST /v1/generations/{job_id}/images/{index}/variations",
            "POST /v1/prompts/improve",
            "POST /v1/estimates",
            "GET /v1/usage",
            "POST /v1/batches",
            "GET /v1/batches/{batch_id}",
            "GET /v1/batches/{batch_id}/results",
            "POST /v1/batches/{batch_id}/cancel",
        }
        - keys
    )


@pytest.mark.parametrize("path", API_EVENTS, ids=lambda p: p.name)
def test_a_sample_event_carries_its_routes_path_parameters(path):
    event = json.loads(path.read_text())
    route = event["routeKey"].split(" ", 1)[1]
    names = re.findall(r"{(\w+)}", route)
    assert sorted(event.get("pathParameters") or {}) == sorted(names)
    concrete = route
    for name in names:
        concrete = concrete.replace("{" + name + "}", event["pathParameters"][name])
    assert event["rawPath"] == concrete == event["requestContext"]["http"]["path"]
