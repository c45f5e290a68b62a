"""Redaction for anything an operator prints: message bodies and job items never show a secret."""

from __future__ import annotations

import json
import re
from typing import Any

REDACTED = "[REDACTED]"

# Keys whose values are secrets whatever they look like (Leonardo API keys look like plain UUIDs).
_SECRET_KEY = re.compile(
    r"secret|token|passw|authori[sz]ation|api[_-]?key|webhook[_-]?key|credential|signature|cookie|private",
    re.IGNORECASE,
)
_KEY_NAMES = (
    r"[A-Za-z_-]*(?:secret|token|passw|authori[sz]ation|api[_-]?key|webhook[_-]?key|credential)[A-Za-z_-]*"
)
# Patterns for secrets inside free text (a JSON string holding JSON, a log line, a URL).
_TEXT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # "api_key": "..." or api_key=... when the structure is not parsed (e.g. JSON inside a string)
    (re.compile(rf'(?i)(\\?"?{_KEY_NAMES}\\?"?\s*[:=]\s*)(\\?"[^"\\]*\\?"|[^\s,&}}\]]+)'), rf"\1{REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),  # JWT
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), REDACTED),  # AWS access key id
    # presigned URL parts and other credentials in query strings
    (
        re.compile(r"(?i)([?&](?:x-amz-[a-z-]+|sig|signature|token|key|api_key|access_token)=)[^&\s\"']+"),
        rf"\1{REDACTED}",
    ),
    # long opaque tokens (generated keys, hex digests); UUIDs (job and generation ids) stay readable
    (re.compile(r"(?<![A-Za-z0-9_])[A-Za-z0-9_]{32,}(?![A-Za-z0-9_])"), REDACTED),
]


def redact_text(text: str) -> str:
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with secret-named fields replaced and secret-looking text masked."""
    if isinstance(value, dict):
        return {
            k: REDACTED if _SECRET_KEY.search(str(k)) and v not in (None, "") else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def preview(body: str, limit: int = 400) -> str:
    """A one-line, redacted, truncated view of a message body (JSON or not)."""
    try:
        text = json.dumps(redact(json.loads(body)), separators=(",", ":"), default=str)
    except ValueError:
        text = redact_text(" ".join(body.split()))
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"
