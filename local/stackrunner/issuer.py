"""A local OpenID issuer: one RSA key on disk, tokens signed with it, its JWKS.

The key lives under `.local-state/jwt/` so that `make token` in another
process signs with the very key the running stack trusts.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = REPO_ROOT / ".local-state" / "jwt"
KEY_FILE = "signing-key.pem"


def _b64url_uint(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def load_or_create_key(state_dir: Path = DEFAULT_STATE_DIR) -> rsa.RSAPrivateKey:
    """Read the signing key, creating it on first use; safe when several processes race."""
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".key-")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, pem)
            os.close(fd)
            # link() fails if another process won the race; then everyone uses the winner's key.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)  # type: ignore[return-value]


class LocalIssuer:
    def __init__(
        self,
        issuer: str,
        audience: str | list[str] | tuple[str, ...],
        state_dir: Path = DEFAULT_STATE_DIR,
    ) -> None:
        self.issuer = issuer
        self.audience = list(audience) if not isinstance(audience, str) else [audience]
        self._key = load_or_create_key(state_dir)
        numbers = self._key.public_key().public_numbers()
        self._jwk = {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }
        # RFC 7638 thumbprint as kid: stable for the key, different for a new one.
        canonical = json.dumps({k: self._jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
        self._jwk["kid"] = self.kid

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self._key.public_key()

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._jwk]}

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer.rstrip('/')}/.well-known/jwks.json",
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        }

    def token(self, sub: str, ttl_seconds: int = 3600, **claims: Any) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.audience[0],
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
        }
        payload.update(claims)
        return jwt.encode(payload, self._key, algorithm="RS256", headers={"kid": self.kid})
