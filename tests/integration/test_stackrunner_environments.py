"""The local runtime's execution environments: one event at a time per environment, and the HTTP
functions built on Powertools' event handler one at a time process-wide (it keeps the event on a
class); every other function, the webhook included, runs side by side; each environment's log lines
carry its own keys, though the layer's Logger is one object in the process."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from stackrunner.isolation import ExecutionEnvironments
from tests.support.concurrency import all_at_once, at_once

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

# Each handler reports to the event's meter, shared by every module copy, how many invocations run
# at once, and waits at the event's barrier when given one: two invocations that can overlap both
# pass it; two that cannot leave the first one waiting until it breaks.
_RECORDING = """
import time
{resolver}

def handler(event, context):
    with event["meter"]:
        if event.get("barrier") is not None:
            event["barrier"].wait(timeout=5)
        time.sleep(event.get("hold", 0))
    return {{"statusCode": 200}}
"""
_RESOLVER = (
    "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver\napp = APIGatewayHttpResolver()"
)


class _Meter:
    """Counts the invocations inside at once, across every environment; keeps the most seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.inside = self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.inside -= 1


@dataclass
class _Spec:
    module_path: Path
    function_name: str = "handler"


class _Runtime:
    """What ExecutionEnvironments uses of the runtime: `handler` (the first cold start) and `functions`."""

    def __init__(self, functions: dict[str, Path]) -> None:
        self.functions = {name: _Spec(path) for name, path in functions.items()}
        self._loaded: dict[str, object] = {}

    def handler(self, logical_id: str):
        if logical_id not in self._loaded:
            spec = importlib.util.spec_from_file_location(
                f"fn_{logical_id}_test", self.functions[logical_id].module_path
            )
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            self._loaded[logical_id] = module.handler
        return self._loaded[logical_id]


@pytest.fixture
def runtime(tmp_path):
    routed = tmp_path / "routed.py"
    routed.write_text(_RECORDING.format(resolver=_RESOLVER))
    plain = tmp_path / "plain.py"
    plain.write_text(_RECORDING.format(resolver=""))
    return _Runtime({"RoutedFunction": routed, "PlainFunction": plain})


BOTH = {"RoutedFunction", "PlainFunction"}


def test_a_function_without_a_router_runs_its_invocations_side_by_side(runtime):
    meter, barrier = _Meter(), threading.Barrier(2)
    with ExecutionEnvironments(runtime, serialized=BOTH) as envs:
        plain = runtime.handler("PlainFunction")
        at_once(lambda: plain({"meter": meter, "barrier": barrier}, None), 2)
    # Both passed the barrier together: two environments, one event each, at the same time.
    assert not barrier.broken and meter.most == 2
    assert envs.environments == {"PlainFunction": 2}


def test_a_function_holding_a_powertools_router_runs_one_event_at_a_time(runtime):
    meter = _Meter()
    with ExecutionEnvironments(runtime, serialized=BOTH) as envs:
        routed = runtime.handler("RoutedFunction")
        at_once(lambda: routed({"meter": meter, "hold": 0.05}, None), 4)
    # Module copies were made for the concurrent invocations, yet none ran beside another.
    assert envs.environments["RoutedFunction"] >= 2
    assert meter.most == 1


def test_a_routed_function_and_a_plain_one_do_not_wait_for_each_other(runtime):
    meter, barrier = _Meter(), threading.Barrier(2)
    with ExecutionEnvironments(runtime, serialized=BOTH):
        routed, plain = runtime.handler("RoutedFunction"), runtime.handler("PlainFunction")
        event = {"meter": meter, "barrier": barrier}
        all_at_once(lambda: routed(event, None), lambda: plain(event, None))
    assert not barrier.broken and meter.most == 2


def test_functions_not_named_serialized_run_side_by_side_even_with_a_router(runtime):
    meter, barrier = _Meter(), threading.Barrier(2)
    with ExecutionEnvironments(runtime, serialized=set()):
        routed = runtime.handler("RoutedFunction")
        at_once(lambda: routed({"meter": meter, "barrier": barrier}, None), 2)
    assert not barrier.broken and meter.most == 2


def test_every_environment_runs_the_handler_under_one_module_name(tmp_path):
    """On Lambda every environment imports the same module, and Powertools Idempotency keys its
    records by the handler's module and name: copies under names of their own would each keep their
    own records, and an event delivered again to another environment would be processed again."""
    path = tmp_path / "named.py"
    path.write_text(
        "own = object()\n"
        "def handler(event, context):\n"
        "    event['barrier'].wait(timeout=5)\n"
        "    return __name__, handler.__module__, id(own)\n"
    )
    runtime = _Runtime({"NamedFunction": path})
    barrier = threading.Barrier(3)
    with ExecutionEnvironments(runtime) as envs:
        named = runtime.handler("NamedFunction")
        answers = at_once(lambda: named({"barrier": barrier}, None), 3)
        assert sys.modules["fn_NamedFunction_test"].handler is runtime._loaded["NamedFunction"]
    assert not barrier.broken and envs.environments == {"NamedFunction": 3}
    assert {(name, module) for name, module, _ in answers} == {("fn_NamedFunction_test",) * 2}
    assert len({own for _, _, own in answers}) == 3  # one name, yet three copies with state of their own


# One Logger for every function, as the layer's gencore.observability is: it writes to `lines`. Its
# service (the name of the standard logger it configures, once per process) is the test's own.
_SHARED_LOGGER = """
import io, logging
from aws_lambda_powertools import Logger
lines = io.StringIO()
logger = Logger(service="{service}", logger_handler=logging.StreamHandler(lines))
"""
_LOGGING = """
from shared_logger import logger

@logger.inject_lambda_context
def handler(event, context):
    logger.append_keys(job_id=event["job"])
    event["barrier"].wait(timeout=5)  # every invocation has appended its keys before any logs
    logger.info("done")
    return {"statusCode": 200}
"""


@pytest.fixture
def logging_runtime(tmp_path, monkeypatch):
    """Two functions logging through one shared Logger (`shared_logger`), importable from tmp_path."""
    (tmp_path / "shared_logger.py").write_text(_SHARED_LOGGER.format(service=tmp_path.name))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "shared_logger", raising=False)
    for name in ("ThumbFunction", "VideoFunction"):
        (tmp_path / f"{name}.py").write_text(_LOGGING)
    return _Runtime({name: tmp_path / f"{name}.py" for name in ("ThumbFunction", "VideoFunction")})


def _logged() -> list[dict]:
    return [json.loads(line) for line in sys.modules["shared_logger"].lines.getvalue().splitlines()]


def _context(function: str) -> SimpleNamespace:
    return SimpleNamespace(
        function_name=function, memory_limit_in_mb=128, aws_request_id=f"request-{function}",
        invoked_function_arn=f"arn:aws:lambda:eu-west-1:123456789012:function:{function}",
    )  # fmt: skip


def test_each_environment_logs_with_its_own_keys_though_the_logger_is_shared(logging_runtime):
    """The layer's Logger keeps the keys it adds to each line on its formatter, one per process here:
    without an environment's own copy, a line takes the function name and job id of whichever event
    appended last, as the local stack's logs did."""
    barrier = threading.Barrier(4)
    with ExecutionEnvironments(logging_runtime) as envs:
        thumb, video = logging_runtime.handler("ThumbFunction"), logging_runtime.handler("VideoFunction")
        calls = [
            lambda f=f, n=n, job=f"{f}-{n}": (thumb if f == "thumb" else video)(
                {"job": job, "barrier": barrier}, _context(f)
            )
            for f in ("thumb", "video")
            for n in (1, 2)
        ]
        all_at_once(*calls)
    assert not barrier.broken and envs.environments == {"ThumbFunction": 2, "VideoFunction": 2}
    logged = _logged()
    assert sorted(line["job_id"] for line in logged) == ["thumb-1", "thumb-2", "video-1", "video-2"]
    assert all(line["job_id"].startswith(line["function_name"]) for line in logged)
    assert all(line["function_request_id"] == f"request-{line['function_name']}" for line in logged)


def test_each_environments_first_event_is_its_cold_start(logging_runtime):
    """Powertools keeps one cold-start flag per process: only the process's first event was logged
    as a cold start, though each new environment is one."""
    barrier = threading.Barrier(2)
    with ExecutionEnvironments(logging_runtime) as envs:
        thumb = logging_runtime.handler("ThumbFunction")
        at_once(lambda: thumb({"job": "thumb-1", "barrier": barrier}, _context("thumb")), 2)
        thumb({"job": "thumb-2", "barrier": threading.Barrier(1)}, _context("thumb"))
    assert envs.environments == {"ThumbFunction": 2}
    logged = _logged()
    assert [line["cold_start"] for line in logged] == [True, True, False]


def test_outside_the_environments_the_formatter_keeps_its_own_keys(logging_runtime):
    from aws_lambda_powertools.logging import logger as logger_module
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    with ExecutionEnvironments(logging_runtime):
        thumb = logging_runtime.handler("ThumbFunction")
        thumb({"job": "thumb-1", "barrier": threading.Barrier(1)}, _context("thumb"))
        shared = sys.modules["shared_logger"].logger
        assert "job_id" not in shared.get_current_keys()  # the event's keys stayed with its environment
    assert "log_format" not in vars(LambdaPowertoolsFormatter)  # the class is as Powertools made it
    assert logger_module._is_cold_start.__module__ == logger_module.__name__  # and so is the flag
    shared.append_keys(after="yes")
    assert shared.get_current_keys()["after"] == "yes"


@pytest.mark.parametrize(("function", "routed"), [("api", True), ("webhook", False), ("docs", False)])
def test_of_the_stacks_http_functions_only_the_api_holds_a_router(function, routed):
    """The real handlers, each in a fresh interpreter: the webhook is matched by hand, so a callback
    is never held behind a create."""
    probe = (
        "import app\nfrom stackrunner.isolation import holds_a_router\n"
        "print(holds_a_router(app.lambda_handler))"
    )
    paths = [ROOT / "layers/core", ROOT / "functions" / function, ROOT / "local"]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(map(str, paths)), "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(  # noqa: S603 (this interpreter, a fixed probe)
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == str(routed)
