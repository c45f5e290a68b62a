"""Where `leo` finds its API URL and token.

Precedence, first found wins: command-line flags (`--api-url`, `--token`), then the profile named by
`--profile` (or `LEO_PROFILE`), then the environment (`LEO_API_URL`, `LEO_TOKEN`), then `[default]`
of the config file. The file is `~/.config/leo/config.toml` (under `XDG_CONFIG_HOME` when set), or
the path in `LEO_CONFIG`:

    [default]
    api_url = "http://127.0.0.1:3000"
    token = "eyJ..."

    [profile.prod]
    api_url = "https://api.example.com"
    token = "eyJ..."
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """The configuration is missing or unreadable (exit code 2)."""


@dataclass(frozen=True, slots=True)
class ClientConfig:
    api_url: str
    token: str
    profile: str | None = None


def config_path(env: Mapping[str, str]) -> Path:
    if env.get("LEO_CONFIG"):
        return Path(env["LEO_CONFIG"]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "leo" / "config.toml"


def _read(path: Path, required: bool) -> dict[str, Any]:
    if not path.is_file():
        if required:
            raise ConfigError(f"config file {path} does not exist")
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc


def _section(data: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    section = data.get("default", {}) if name == "default" else data.get("profile", {}).get(name)
    if not isinstance(section, dict):
        raise ConfigError(f"no profile [profile.{name}] in {path}")
    return section


def resolve(
    env: Mapping[str, str],
    *,
    api_url: str | None = None,
    token: str | None = None,
    profile: str | None = None,
) -> ClientConfig:
    path = config_path(env)
    profile = profile or env.get("LEO_PROFILE") or None
    data = _read(path, required=profile is not None or bool(env.get("LEO_CONFIG")))
    chosen = _section(data, profile, path) if profile is not None else {}
    default = data.get("default", {}) if isinstance(data.get("default"), dict) else {}

    def pick(flag: str | None, key: str, env_name: str) -> str | None:
        for value in (flag, chosen.get(key), env.get(env_name), default.get(key)):
            if value:
                return str(value)
        return None

    url = pick(api_url, "api_url", "LEO_API_URL")
    secret = pick(token, "token", "LEO_TOKEN")
    if url is None:
        raise ConfigError(f"no API URL: pass --api-url, set LEO_API_URL, or put api_url in {path}")
    if secret is None:
        raise ConfigError(f"no token: pass --token, set LEO_TOKEN, or put token in {path}")
    return ClientConfig(api_url=url, token=secret, profile=profile)
