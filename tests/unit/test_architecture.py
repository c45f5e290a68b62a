"""The rings stay apart: the domain imports no AWS SDK, no HTTP client and reads no environment."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
CORE = Path("layers/core/gencore")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((CORE / "domain").rglob("*.py")), ids=lambda p: p.name)
def test_domain_has_no_infrastructure_imports(path):
    assert not _imports(path) & {"boto3", "botocore", "httpx", "os", "aws_lambda_powertools"}


@pytest.mark.parametrize("path", sorted((CORE / "leonardo").glob("*.py")), ids=lambda p: p.name)
def test_leonardo_client_has_no_aws_or_environment(path):
    assert not _imports(path) & {"boto3", "botocore", "os"}


@pytest.mark.parametrize("path", sorted(Path("functions").glob("*/app.py")), ids=lambda p: p.parent.name)
def test_handlers_are_thin_and_never_touch_boto3(path):
    assert "boto3" not in _imports(path)
    # Thin: parse the event, call the domain, shape the answer (the api has six routes).
    assert len(path.read_text().splitlines()) <= 150
