"""Nothing records a response or an exception as X-Ray trace metadata.

The API's answers carry presigned GET URLs and presigned upload form fields (policy, signature,
credential): whatever records them in a trace hands them to everyone who can read X-Ray. Powertools'
Tracer does by default (`capture_response`, `capture_error`). No function uses it today (it was
removed for cold starts, docs/performance.md), and X-Ray active tracing records only the segments.
These specs keep it that way: a Tracer may come back only with both captures off in the code, and
the template turns them off for every function besides.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from aws_lambda_powertools.shared import constants

from tests.support.template import load_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers/core/gencore").rglob("*.py")])
CAPTURING = {"capture_lambda_handler", "capture_method"}


def _captures(tree: ast.AST) -> list[str]:
    """Each Tracer decorator use that does not turn both captures off, as `line: source`."""
    found = []
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if id(node) in called:
            continue  # the decorator's call is judged with its keywords
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, keywords = node.func.attr, {k.arg: k.value for k in node.keywords}
        elif isinstance(node, ast.Attribute):
            name, keywords = node.attr, {}
        else:
            continue
        if name not in CAPTURING:
            continue
        off = all(
            isinstance(keywords.get(flag), ast.Constant) and keywords[flag].value is False
            for flag in ("capture_response", "capture_error")
        )
        if not off:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_tracer_decorator_captures_responses_or_errors(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    assert _captures(tree) == []


def test_the_rule_catches_a_tracer_with_response_capture():
    # Given the decorators a Tracer would bring back, When checked, Then each capturing one is caught
    source = """
@tracer.capture_lambda_handler
def a(): ...
@tracer.capture_method(capture_response=True)
def b(): ...
@tracer.capture_method(capture_response=False)
def c(): ...
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def d(): ...
"""
    lines = {entry.split(":")[0] for entry in _captures(ast.parse(source))}
    assert lines == {"2", "4", "6"}


def test_every_function_runs_with_tracer_captures_off():
    # Powertools reads these at each decorator use when the code does not say (a Tracer added later)
    env = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert env[constants.TRACER_CAPTURE_RESPONSE_ENV] == "false"
    assert env[constants.TRACER_CAPTURE_ERROR_ENV] == "false"
    for name, resource in load_template()["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            own = resource["Properties"].get("Environment", {}).get("Variables", {})
            assert own.get(constants.TRACER_CAPTURE_RESPONSE_ENV, "false") == "false", name
            assert own.get(constants.TRACER_CAPTURE_ERROR_ENV, "false") == "false", name


def test_the_captures_env_names_are_powertools_own():
    assert constants.TRACER_CAPTURE_RESPONSE_ENV == "POWERTOOLS_TRACER_CAPTURE_RESPONSE"
    assert constants.TRACER_CAPTURE_ERROR_ENV == "POWERTOOLS_TRACER_CAPTURE_ERROR"


def test_no_function_imports_the_xray_sdk():
    for path in SOURCES:
        text = path.read_text()
        assert "aws_xray_sdk" not in text and "from aws_lambda_powertools import Tracer" not in text, path
