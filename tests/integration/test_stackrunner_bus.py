"""EventBridge locally: the template's buses and rules exist in local AWS, and the stack's tap shows
what a bus carried (stackrunner/aws.py, stackrunner/bus.py)."""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest

from stackrunner.aws import ResourceCreator
from stackrunner.bus import BusTap, tap_bus
from stackrunner.template import Template

pytestmark = pytest.mark.integration

TEMPLATE = textwrap.dedent(
    """
    Resources:
      Bus:
        Type: AWS::Events::EventBus
        Properties:
          Name: !Sub "${AWS::StackName}-events"
      Inbox:
        Type: AWS::SQS::Queue
      FailedOnly:
        Type: AWS::Events::Rule
        Properties:
          EventBusName: !Ref Bus
          EventPattern: {"source": ["leonardo-backend"], "detail-type": ["Generation Failed"]}
          Targets:
            - {Id: inbox, Arn: !GetAtt Inbox.Arn}
    """
)


@pytest.fixture
def created(aws, tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    template = Template(path, {}, stack_name=f"s{uuid.uuid4().hex[:8]}")
    creator = ResourceCreator(template, aws)
    creator.create_all()
    yield template, creator
    creator.delete_all()


def _put(aws, bus: str, detail_type: str, event_id: str) -> None:
    entry = {"EventBusName": bus, "Source": "leonardo-backend", "DetailType": detail_type,
             "Detail": json.dumps({"event_id": event_id})}  # fmt: skip
    assert aws.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0


def test_a_bus_is_named_from_the_stack_and_its_rule_delivers_matching_events_to_sqs(aws, created):
    template, _ = created
    bus = template.physical["Bus"]
    assert bus.ref == f"{template.stack_name}-events" and bus.attrs["Arn"].endswith(f":event-bus/{bus.ref}")

    _put(aws, bus.ref, "Generation Completed", "a:COMPLETE")
    _put(aws, bus.ref, "Generation Failed", "b:FAILED")

    sqs = aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=template.physical["Inbox"].ref, MaxNumberOfMessages=10)[
        "Messages"
    ]
    assert [json.loads(m["Body"])["detail"]["event_id"] for m in messages] == ["b:FAILED"]


def test_the_tap_keeps_every_event_of_the_bus_oldest_first(aws, created):
    template, _ = created
    bus = template.physical["Bus"].ref
    tap = BusTap(
        lambda: aws.client("sqs"), {bus: tap_bus(aws.client("events"), aws.client("sqs"), bus, f"{bus}-tap")}
    )

    for n in range(3):
        _put(aws, bus, "Generation Completed", f"j{n}:COMPLETE")
    _put(aws, bus, "Generation Cancelled", "k:CANCELLED")
    assert tap.drain() == 4

    assert [e["detail"]["event_id"] for e in tap.events(2)] == ["j2:COMPLETE", "k:CANCELLED"]
    assert [e["detail"]["event_id"] for e in tap.events(None, "Generation Completed")] == [
        "j0:COMPLETE", "j1:COMPLETE", "j2:COMPLETE",
    ]  # fmt: skip
    assert {e["bus"] for e in tap.events()} == {bus}


def test_deleting_the_stack_removes_the_bus_and_its_rules(aws, created):
    template, creator = created
    bus = template.physical["Bus"].ref
    tap_bus(aws.client("events"), aws.client("sqs"), bus, f"{bus}-tap")  # a rule the template does not know

    creator.delete_all()

    names = [b["Name"] for b in aws.client("events").list_event_buses()["EventBuses"]]
    assert bus not in names
