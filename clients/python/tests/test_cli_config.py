"""`leo` configuration: flags, then the chosen profile, then LEO_API_URL/LEO_TOKEN, then [default]
of ~/.config/leo/config.toml (or LEO_CONFIG); anything missing is a usage error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Leo
from fake_leo import API

CONFIG = """
[default]
api_url = "http://default.test"
token = "t-default"

[profile.bob]
api_url = "http://leo.test"
token = "t-bob"
"""


def write_config(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG)
    return path


def test_the_environment_names_the_api_and_token(leo: Leo):
    assert leo("history").code == 0
    assert (leo.configs[0].api_url, leo.configs[0].token) == (API, "t-alice")


def test_flags_override_the_environment(leo: Leo):
    leo("--api-url", "http://other.test", "--token", "t-flag", "history")

    assert (leo.configs[0].api_url, leo.configs[0].token) == ("http://other.test", "t-flag")


def test_the_default_section_is_used_when_nothing_else_is_set(
    leo: Leo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    write_config(tmp_path / "xdg" / "leo" / "config.toml")
    monkeypatch.delenv("LEO_API_URL")
    monkeypatch.delenv("LEO_TOKEN")

    leo("history")

    assert (leo.configs[0].api_url, leo.configs[0].token) == ("http://default.test", "t-default")


def test_an_explicit_profile_wins_over_the_environment(leo: Leo, tmp_path: Path):
    write_config(tmp_path / "xdg" / "leo" / "config.toml")

    run = leo("--profile", "bob", "history", "--json")

    assert run.code == 0
    assert (leo.configs[0].token, leo.configs[0].profile) == ("t-bob", "bob")


def test_leo_config_overrides_the_path(leo: Leo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LEO_CONFIG", str(write_config(tmp_path / "elsewhere.toml")))

    leo("--profile", "bob", "history")

    assert leo.configs[0].token == "t-bob"


def test_an_unknown_profile_is_a_usage_error(leo: Leo, tmp_path: Path):
    write_config(tmp_path / "xdg" / "leo" / "config.toml")

    run = leo("--profile", "nobody", "history")

    assert run.code == 2
    assert run.err.startswith("error: config: no profile [profile.nobody]")


def test_no_api_url_anywhere_is_a_usage_error(leo: Leo, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LEO_API_URL")

    run = leo("history")

    assert run.code == 2
    assert run.err.startswith("error: config: no API URL")
    assert run.err.count("\n") == 1  # one readable line


def test_a_missing_argument_is_a_usage_error(leo: Leo):
    run = leo("get")

    assert run.code == 2
    assert "Missing argument" in run.err


def test_help_documents_the_exit_codes(leo: Leo):
    run = leo("--help")

    assert run.code == 0
    for line in ("0    ok", "1    API error", "2    usage", "3    the job or batch", "4    timed out", "130"):
        assert line in run.out
