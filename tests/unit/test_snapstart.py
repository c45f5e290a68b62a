"""SnapStart's hooks (gencore/snapstart.py): what is built into the snapshot, and what every restored
environment makes fresh for itself.

Lambda's runtime module `snapshot_restore_py` exists only on Lambda: each test installs a fake one that
records the hooks, so "taking the snapshot" and "restoring" are calling what was registered.
"""

from __future__ import annotations

import importlib.util
import random
import socket
import sys
import types
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from gencore import snapstart
from gencore.adapters import secrets
from gencore.adapters.ddb import Writer
from gencore.adapters.leonardo import LeonardoGateway
from gencore.domain.account import AccountGuard
from gencore.domain.platform_models import ModelList, PlatformModel, PlatformModels
from gencore.domain.policy import Policy
from gencore.leonardo import LeonardoClient
from tests.support.template import load_template

pytestmark = pytest.mark.unit
NOW = datetime(2030, 1, 1, tzinfo=UTC)


class Runtime:
    """A stand-in for `snapshot_restore_py`: records the hooks and runs them as Lambda does."""

    def __init__(self) -> None:
        self.before: list = []
        self.after: list = []
        self.module = types.ModuleType("snapshot_restore_py")
        self.module.register_before_snapshot = self.before.append
        self.module.register_after_restore = self.after.append

    def snapshot(self) -> None:
        for hook in reversed(self.before):  # Lambda runs these in the reverse order of registration
            hook()

    def restore(self) -> None:
        for hook in self.after:
            hook()


@pytest.fixture
def runtime(monkeypatch):
    fake = Runtime()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake.module)
    state = random.getstate()  # a restore reseeds the module generator: give the next test its own back
    yield fake
    random.setstate(state)


# --- registration ---------------------------------------------------------------------------------


def test_outside_lambda_nothing_is_registered(monkeypatch):
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as off Lambda

    assert snapstart.install(prime=lambda: None) is False


def test_the_prime_runs_before_the_snapshot_and_the_reset_after_each_restore(runtime):
    primed = []

    assert snapstart.install(prime=lambda: primed.append(1)) is True
    runtime.snapshot()

    assert primed == [1]
    assert runtime.after == [snapstart.after_restore]


# --- what a restore makes fresh -------------------------------------------------------------------


def test_each_restored_environment_draws_its_own_module_level_jitter(runtime):
    """botocore's retry jitter comes from the module generator: its state is in the snapshot."""
    snapstart.install()
    random.seed(1)
    snapshot = random.getstate()

    draws = []
    for _ in range(2):  # two environments resumed from one snapshot
        random.setstate(snapshot)
        runtime.restore()
        draws.append([random.random() for _ in range(3)])
    without_hook = []
    for _ in range(2):
        random.setstate(snapshot)
        without_hook.append([random.random() for _ in range(3)])

    assert draws[0] != draws[1]
    assert without_hook[0] == without_hook[1]  # what the hook prevents: both back off in step


def test_our_jitter_has_no_state_for_a_snapshot_to_share():
    """Policy, the DynamoDB writer and the Leonardo client draw from os.urandom (SystemRandom)."""
    client = LeonardoClient(api_key="k")
    generators = [Policy().rng, Writer(client=None)._rng, client._api._retrier._rng]

    assert all(isinstance(rng, random.SystemRandom) for rng in generators)
    with pytest.raises(NotImplementedError):
        generators[0].getstate()  # nothing to copy into a snapshot


def test_a_restore_drops_cached_secrets(runtime, monkeypatch):
    reads = []

    class SecretsManager:
        def get_secret_value(self, **request):
            reads.append(request["SecretId"])
            return {"SecretString": '{"api_key": "k"}'}

    monkeypatch.setattr(secrets, "aws", lambda service: SecretsManager())
    secrets.DEFAULT_PROVIDERS.pop("secrets", None)
    snapstart.install()
    try:
        secrets.secret_field("key-arn", "api_key", max_age=300)
        secrets.secret_field("key-arn", "api_key", max_age=300)  # cached
        runtime.restore()
        secrets.secret_field("key-arn", "api_key", max_age=300)
    finally:
        secrets.DEFAULT_PROVIDERS.pop("secrets", None)

    assert reads == ["key-arn", "key-arn"]


class Counting:
    """An account state store and a model cache that count their reads."""

    def __init__(self) -> None:
        self.loads = 0

    def load(self):
        self.loads += 1
        return None


class Client:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _wiring(guard, models, gateway) -> types.SimpleNamespace:
    """A stand-in for gencore.wiring whose three factories were called before the snapshot."""
    wiring = types.SimpleNamespace(
        account_guard=cache(lambda: guard),
        platform_models=cache(lambda: models),
        leonardo=cache(lambda: gateway),
    )
    wiring.account_guard(), wiring.platform_models(), wiring.leonardo()
    return wiring


def test_a_restore_forgets_what_the_built_objects_remember(runtime, monkeypatch):
    state, model_cache, clients = Counting(), Counting(), []
    guard = AccountGuard(state, lambda: NOW)
    models = PlatformModels(model_cache, lambda: NOW)
    gateway = LeonardoGateway(lambda **_: clients.append(Client()) or clients[-1])
    guard.blocked(), models.list(), gateway.client  # used before the snapshot (the answers are memoised)
    guard.blocked(), models.list()
    assert (state.loads, model_cache.loads, len(clients)) == (1, 1, 1)
    monkeypatch.setitem(sys.modules, "gencore.wiring", _wiring(guard, models, gateway))
    snapstart.install()

    runtime.restore()
    guard.blocked(), models.list(), gateway.client

    assert (state.loads, model_cache.loads) == (2, 2)  # read again, not served from the snapshot
    assert clients[0].closed and len(clients) == 2  # its connections and key were the snapshot's


def test_a_restore_builds_nothing_that_was_not_built(runtime, monkeypatch):
    def unexpected():
        raise AssertionError("built by the restore")

    wiring = types.SimpleNamespace(
        account_guard=cache(unexpected), platform_models=cache(unexpected), leonardo=cache(unexpected)
    )
    monkeypatch.setitem(sys.modules, "gencore.wiring", wiring)
    snapstart.install()

    runtime.restore()


def test_the_account_guard_reads_again_after_forgetting():
    state = Counting()
    guard = AccountGuard(state, lambda: NOW)
    guard.blocked()

    guard.forget()
    guard.blocked()

    assert state.loads == 2


def test_the_model_list_reads_again_after_forgetting():
    model_cache = Counting()
    model_cache.load = lambda: ModelList(models=(PlatformModel(id="m", name="M"),), refreshed_at=NOW)
    models = PlatformModels(model_cache, lambda: NOW + timedelta(seconds=1))
    models.list()
    model_cache.load = lambda: None

    models.forget()

    assert models.list() == []


# --- what is built into the snapshot ---------------------------------------------------------------

FUNCTION_ENV = {
    "JOBS_TABLE": "jobs",
    "IDEMPOTENCY_TABLE": "idempotency",
    "OUTPUT_BUCKET": "outputs",
    "SUBMIT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/submit",
    "EVENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/events",
    "LEONARDO_API_KEY_SECRET": "arn:aws:secretsmanager:us-east-1:123456789012:secret:key",
    "WEBHOOK_SECRET": "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


@pytest.fixture
def function_env(monkeypatch):
    from gencore import wiring

    for name, value in FUNCTION_ENV.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    yield wiring
    wiring.reset()


@pytest.fixture
def offline(monkeypatch):
    """Any connection attempt fails the test: priming must send nothing."""

    def refuse(*args, **kwargs):
        raise AssertionError("a connection was opened before the snapshot")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _load(function: str):
    spec = importlib.util.spec_from_file_location(
        f"snapstart_{function}_app", Path("functions", function, "app.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("function", "built"),
    [
        ("submitter", ["submitter", "store", "leonardo", "account_guard"]),
        ("processor", ["processor", "store", "outputs", "leonardo"]),
        ("api", ["generations", "removal", "outputs", "account_guard", "prompts", "uploads"]),
    ],
)
def test_the_snapshot_holds_each_function_use_cases_built_without_a_request(
    function, built, runtime, function_env, offline
):
    _load(function)  # its init: registers the hooks

    runtime.snapshot()

    assert all(getattr(function_env, name).cache_info().currsize == 1 for name in built)
    assert all(gateway._client is None for gateway in [function_env.leonardo()])  # no key read yet


# --- the template ---------------------------------------------------------------------------------

RESOURCES = load_template()["Resources"]
FUNCTIONS = {
    name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"
}


def _with_snapstart() -> set[str]:
    return {name for name, props in FUNCTIONS.items() if "SnapStart" in props}


def test_the_api_and_the_slot_hand_over_path_are_restored_from_snapshots():
    with_snapstart = _with_snapstart()

    assert with_snapstart == {"ApiFunction", "SubmitterFunction", "ProcessorFunction"}
    assert all(FUNCTIONS[name]["SnapStart"] == {"ApplyOn": "PublishedVersions"} for name in with_snapstart)


def test_every_function_is_invoked_through_an_alias_that_follows_every_change():
    """SnapStart needs published versions; a property or layer change must publish, and a replaced
    version (with its snapshot, charged while it exists) must not be kept."""
    assert load_template()["Globals"]["Function"]["AutoPublishAlias"] == "live"
    for name, props in FUNCTIONS.items():
        assert props["AutoPublishAliasAllProperties"] is True, name
        assert props["VersionDeletionPolicy"] == "Delete", name
    assert RESOURCES["CoreLayer"]["Properties"]["PublishLambdaVersion"] is True


def test_functions_with_snapstart_use_nothing_it_does_not_support_and_register_the_hooks():
    for name in _with_snapstart():
        props = FUNCTIONS[name]
        assert "ProvisionedConcurrencyConfig" not in props and "FileSystemConfigs" not in props, name
        assert props.get("EphemeralStorage", {"Size": 512})["Size"] <= 512, name
        handler = Path(props["CodeUri"], props["Handler"].rpartition(".")[0] + ".py")
        assert "snapstart.install(" in handler.read_text(), name
