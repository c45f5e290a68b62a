"""`python -m leonardo_simulator` runs standalone from the environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_module_entry_point_prints_its_url_and_serves():
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "local"),
        "LEONARDO_SIM_PORT": "0",
        "LEONARDO_API_KEY": "standalone-key",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "leonardo_simulator"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = re.fullmatch(r"Leonardo simulator on (http://127\.0\.0\.1:\d+/api/rest/v1)", line)
        assert match, line
        response = httpx.get(match[1] + "/me", headers={"authorization": "Bearer standalone-key"}, timeout=10)
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
