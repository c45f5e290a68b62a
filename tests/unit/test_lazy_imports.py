"""What a function's cold start imports: only what its handler module needs at init.

Each check runs in a fresh interpreter, since this test process has imported everything already.
The figures are in docs/performance.md (cold starts); this pins the behaviour behind them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cold_start import PRIME, PRIME_SETUP
from stackrunner.template import Template
from tests.support.template import load_template

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("PIL", "httpx", "aws_xray_sdk", "gencore.leonardo.client", "gencore.adapters.images")
# Powertools' parser models for every event source: the batch utility loads them when pydantic was
# imported before it; no function uses them (the batch utility's import comes first).
PARSER_MODELS = "aws_lambda_powertools.utilities.parser"
# Building a boto3 client needs credentials (nothing is sent); without them it asks the instance.
PLACEHOLDER_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "placeholder", "AWS_SECRET_ACCESS_KEY": "placeholder",
                           "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
FUNCTIONS = ["api", "webhook", "submitter", "processor", "reconciler", "batch", "app_webhook"]


def _loaded_after(statement: str, function: str | None = None, env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded once `statement` ran in a fresh interpreter (`env` on top of ours)."""
    paths = [str(ROOT / "layers/core")] + ([str(ROOT / "functions" / function)] if function else [])
    probe = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    env = os.environ | (env or {}) | {"PYTHONPATH": os.pathsep.join(paths)}
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    done = subprocess.run(  # noqa: S603 (this interpreter, a fixed probe)
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True, cwd=ROOT
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_wiring_imports_no_adapter_until_a_factory_is_called():
    loaded = _loaded_after("import gencore.wiring")
    assert not {m for m in loaded if m.startswith("gencore.adapters")}
    assert not loaded & set(HEAVY)


def test_parsing_a_callback_does_not_load_the_leonardo_client():
    loaded = _loaded_after("import gencore.leonardo.callbacks")
    assert "gencore.leonardo.client" not in loaded and "httpx" not in loaded


def test_the_client_still_loads_on_first_use():
    loaded = _loaded_after("from gencore.leonardo import LeonardoClient")
    assert {"gencore.leonardo.client", "httpx"} <= loaded


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_handler_loads_pillow_httpx_or_the_xray_sdk_at_init(function):
    loaded = _loaded_after("import app", function)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_handler_loads_powertools_parser_models_at_init(function):
    loaded = _loaded_after("import app", function)
    assert not {m for m in loaded if m.startswith(PARSER_MODELS)}


# What turns a request into a paid call: only a submit needs them (and the API, which checks requests).
REQUEST_RULES = {
    "gencore.domain.recipes", "gencore.domain.parameters", "gencore.domain.requests",
    "gencore.domain.video_requests", "gencore.domain.quality",
}  # fmt: skip


@pytest.mark.parametrize("function", ["processor", "reconciler"])
def test_functions_that_build_no_leonardo_call_do_not_load_the_request_rules_at_init(function):
    """The kinds' builders load the recipes and parameter rules on first use, not where a kind is
    only looked up."""
    loaded = _loaded_after("import app", function)
    assert not loaded & REQUEST_RULES, sorted(loaded & REQUEST_RULES)
    assert "gencore.domain.kinds" in loaded


def test_the_submitter_loads_what_every_submit_uses_at_init():
    """Every submit builds a paid call: the recipes and their rules load under the init's CPU burst."""
    loaded = _loaded_after("import app", "submitter")
    assert {"gencore.domain.submit", "gencore.domain.recipes", "gencore.domain.parameters"} <= loaded


def test_the_processor_never_loads_the_request_rules_not_even_for_its_first_event():
    """Its prime builds what its events use (the use case, its adapters, the plans' NSFW policy):
    the plans' caps read the video catalog and the model catalog, not the request rules."""
    spec = Template(ROOT / "template.yaml").functions()["ProcessorFunction"]
    # The prime the handler registers, run as Lambda runs it before a snapshot, through the cold start
    # bench's stand-in for the runtime's snapshot_restore_py: this follows whatever the handler primes.
    prime = PRIME_SETUP.format(module="app") + "assert before, 'no prime registered'\n" + PRIME
    loaded = _loaded_after(prime, "processor", env=spec.environment | PLACEHOLDER_CREDENTIALS)
    assert {"gencore.domain.processing", "gencore.domain.plans", "gencore.adapters.dynamo"} <= loaded
    assert not loaded & REQUEST_RULES, sorted(loaded & REQUEST_RULES)


def test_a_kind_still_builds_its_call_on_first_use():
    probe = (
        "from gencore.domain.kinds import kind_of, Refs\n"
        "call = kind_of('text_to_image').build({'prompt': 'a cat', 'model_id': None}, Refs(), 7)\n"
        "video = kind_of('text_to_video').build({'prompt': 'a cat', 'resolution': '720p'}, Refs(), 7)\n"
        "assert call.route == '/generations' and call.body['seed'] == 7, call\n"
        "assert video.body['resolution'] == 'RESOLUTION_720', video"
    )
    assert "gencore.domain.recipes" in _loaded_after(probe)


def test_the_webhook_loads_neither_pydantic_nor_the_event_handler_at_init():
    """Leonardo waits on the webhook's cold start: a hand-written route and parse, no models."""
    loaded = _loaded_after("import app", "webhook")
    assert not {m for m in loaded if m == "pydantic" or m.startswith(("pydantic.", "pydantic_core"))}
    assert not {m for m in loaded if m.startswith("aws_lambda_powertools.event_handler")}
    assert "gencore.settings" not in loaded and "gencore.wiring" not in loaded


def test_no_cold_start_scans_the_path_for_pydantic_plugins():
    """pydantic reads every distribution's entry points at its first model unless told not to."""
    env = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    probe = (
        "import importlib.metadata as m\n"
        "def scan(*a, **k): raise AssertionError('scanned for plugins')\n"
        "m.entry_points = scan\n"
        "import pydantic.plugin._loader as loader\n"
        "loader.entry_points = scan\n"
        "class M(pydantic.BaseModel):\n    n: int = 0\n"
        "print(M(n=1).n)"
    )
    done = subprocess.run(  # noqa: S603 (this interpreter, a fixed probe)
        [sys.executable, "-c", "import pydantic\n" + probe],
        capture_output=True, text=True, check=False,
        env=os.environ | {"PYDANTIC_DISABLE_PLUGINS": env["PYDANTIC_DISABLE_PLUGINS"]},
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr[-2000:]
