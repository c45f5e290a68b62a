"""The runner's configuration from the environment, `python -m stackrunner`, and the real template."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from stackrunner import LocalStack, StackConfig
from stackrunner.stack import LOCAL_LEONARDO_KEY, LOCAL_WEBHOOK_KEY

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_from_env_defaults_to_the_simulator_and_local_keys():
    cfg = StackConfig.from_env({})
    assert cfg.use_simulator
    assert (cfg.api_port, cfg.aws_port, cfg.simulator_port) == (3000, 4566, 8090)
    assert (cfg.leonardo_api_key, cfg.webhook_key) == (LOCAL_LEONARDO_KEY, LOCAL_WEBHOOK_KEY)


def test_from_env_with_a_real_key_and_no_base_url_talks_to_real_leonardo():
    cfg = StackConfig.from_env({"LEONARDO_API_KEY": "real", "PORT": "3100", "LEONARDO_WEBHOOK_KEY": "wk"})
    assert not cfg.use_simulator and cfg.leonardo_base_url is None
    assert (cfg.leonardo_api_key, cfg.webhook_key, cfg.api_port) == ("real", "wk", 3100)


def test_from_env_with_a_base_url_uses_that_server():
    cfg = StackConfig.from_env({"LEONARDO_BASE_URL": "http://127.0.0.1:9000/api/rest/v1"})
    assert not cfg.use_simulator and cfg.leonardo_base_url == "http://127.0.0.1:9000/api/rest/v1"


def test_real_template_without_simulator_keeps_the_real_leonardo_parameters(tmp_path):
    cfg = StackConfig(
        api_port=0, aws_port=0, use_simulator=False, jwt_state_dir=tmp_path, stack_name="realparams"
    )
    stack = LocalStack(cfg)
    params = stack._parameters()
    assert params == {"JwtIssuer": stack.api_url}  # LeonardoBaseUrl and AllowedOutputOrigins keep defaults


def test_real_template_with_the_simulator_is_wired_to_it(tmp_path):
    cfg = StackConfig(
        api_port=0,
        aws_port=0,
        simulator_port=0,
        jwt_state_dir=tmp_path,
        stack_name=f"real-{os.getpid()}",
        simulator_config_overrides={"pending_seconds": 0.2},
    )
    with LocalStack(cfg) as stack:
        env = stack.template.functions()["SubmitterFunction"].environment
        assert env["LEONARDO_BASE_URL"] == stack.simulator.base_url
        assert env["ALLOWED_OUTPUT_ORIGINS"] == stack.simulator.origin
        assert os.environ["JOBS_TABLE"] == stack.physical_ids["JobsTable"]
        assert stack.simulator.config.webhook_url == stack.api_url + "/webhooks/leonardo"
        sm = stack.boto3_client("secretsmanager")
        secret = sm.get_secret_value(SecretId=env["LEONARDO_API_KEY_SECRET"])["SecretString"]
        assert json.loads(secret) == {"api_key": LOCAL_LEONARDO_KEY}
        secret = sm.get_secret_value(SecretId=env["WEBHOOK_SECRET"])["SecretString"]
        assert json.loads(secret) == {"webhook_key": LOCAL_WEBHOOK_KEY}
        indexes = stack.boto3_client("dynamodb").describe_table(TableName=env["JOBS_TABLE"])["Table"]
        assert {i["IndexName"] for i in indexes["GlobalSecondaryIndexes"]} == {
            "UserJobs",
            "DueJobs",
            "TopSpenders",
        }
    assert "JOBS_TABLE" not in os.environ or os.environ["JOBS_TABLE"] != env["JOBS_TABLE"]


def test_python_m_stackrunner_serves_until_sigint(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("layers/core", "local", ".")),
        "PORT": "0",
        "LOCAL_AWS_PORT": "0",
        "SIMULATOR_PORT": "0",
        "STACKRUNNER_JWT_DIR": str(tmp_path),
    }
    for name in ("LEONARDO_API_KEY", "LEONARDO_BASE_URL"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "stackrunner"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        api_url = None
        deadline = time.monotonic() + 30
        banner = []
        while api_url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            banner.append(line)
            if line.strip().startswith("API"):
                api_url = line.split()[1]
        assert api_url, "".join(banner)
        for _ in range(8):
            banner.append(proc.stdout.readline())
        text = "".join(banner)
        assert "local-leonardo-key" in text and "local-webhook-key" in text
        assert "make token USER=alice" in text and "curl" in text
        assert httpx.get(api_url + "/.well-known/jwks.json").json()["keys"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_from_env_passes_the_simulators_own_settings_through():
    from leonardo_simulator import FaultConfig

    cfg = StackConfig.from_env(
        {
            "LEONARDO_SIM_PENDING_SECONDS": "0.5",
            "LEONARDO_SIM_DROP_CALLBACK_RATE": "0.3",
            "VISIBILITY_SCALE": "0.1",
        }
    )
    assert cfg.simulator_config_overrides == {
        "pending_seconds": 0.5,
        "faults": FaultConfig(drop_callback_rate=0.3),
    }
    assert cfg.visibility_scale == 0.1
