"""`make token USER=alice PLAN=free` (stackrunner/token.py): the local issuer signs a token carrying
the user's plan in the plan claim (`plan`, or the template's `PlanClaim`, or `--plan-claim`), and the
local gateway's JWT authorizer hands it to the handler like any claim."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import jwt
import pytest

from stackrunner import token as token_cli
from tests.fixtures.stack.harness import FIXTURE_TEMPLATE, start_fixture_stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_fixture_stack(tmp_path_factory.mktemp("token"))
    yield stack
    stack.stop()


@pytest.fixture
def issue(stack, monkeypatch, capsys):
    """Run the CLI as `make token` does, signing with the key the fixture stack trusts."""
    original = token_cli.LocalIssuer
    monkeypatch.setattr(
        token_cli,
        "LocalIssuer",
        lambda issuer, audience: original(issuer, audience, stack.config.jwt_state_dir),
    )

    def run(*args: str, template: Path = FIXTURE_TEMPLATE) -> str:
        assert token_cli.main([*args, "--port", str(stack.api_port), "--template", str(template)]) == 0
        return capsys.readouterr().out.strip()

    return run


def claims_seen_by_the_handler(stack, token: str) -> dict:
    answer = httpx.get(f"{stack.api_url}/items/1", headers={"authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["event"]["requestContext"]["authorizer"]["jwt"]["claims"]


def test_the_plan_is_in_the_plan_claim_and_reaches_the_handler(stack, issue):
    claims = claims_seen_by_the_handler(stack, issue("alice", "--plan", "free"))
    assert (claims["sub"], claims["plan"]) == ("alice", "free")


def test_the_token_is_signed_by_the_local_issuer_with_the_plan(stack, issue):
    token = issue("bob", "--plan", "pro")
    payload = jwt.decode(token, stack.issuer.public_key, algorithms=["RS256"], audience="fixture-aud")
    assert (payload["sub"], payload["plan"], payload["iss"]) == ("bob", "pro", stack.api_url)


def test_without_a_plan_the_token_has_no_plan_claim(stack, issue):
    assert "plan" not in claims_seen_by_the_handler(stack, issue("carol"))


def test_the_claims_name_can_be_given(stack, issue):
    claims = claims_seen_by_the_handler(stack, issue("dave", "--plan", "pro", "--plan-claim", "tier"))
    assert claims["tier"] == "pro" and "plan" not in claims


def test_the_claims_name_defaults_to_the_templates_plan_claim_parameter(stack, issue, tmp_path):
    template = tmp_path / "template.yaml"
    text = FIXTURE_TEMPLATE.read_text()
    assert "\nParameters:\n" in text
    template.write_text(
        text.replace(
            "\nParameters:\n", "\nParameters:\n  PlanClaim:\n    Type: String\n    Default: tier\n", 1
        )
    )
    claims = claims_seen_by_the_handler(stack, issue("erin", "--plan", "free", template=template))
    assert claims["tier"] == "free"


def make_token_dry_run(*variables: str) -> str:
    """What `make token` would run (`make -n`), continuation lines joined."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    command = [make, "-n", "--no-print-directory", "token", *variables]
    ran = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603
    return " ".join(ran.stdout.replace("\\\n", " ").split())


def test_make_token_passes_user_plan_and_claim_name():
    line = make_token_dry_run("USER=alice", "PLAN=free", "PLAN_CLAIM=tier")
    assert "-m stackrunner.token alice --plan free --plan-claim tier" in line


def test_make_token_without_a_plan_adds_no_plan():
    line = make_token_dry_run("USER=alice")
    assert "-m stackrunner.token alice" in line and "--plan" not in line
