"""The gateway behaves like API Gateway HTTP API: routes, payload 2.0 events, JWT authorizer, limits."""

import base64
import json
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures.stack.harness import FIXTURE_DIR, start_fixture_stack

pytestmark = pytest.mark.integration

REFERENCE_EVENT = json.loads((FIXTURE_DIR / "events" / "http_api_v2_jwt.json").read_text())
REPO_EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_fixture_stack(tmp_path_factory.mktemp("jwt"))
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def api(stack):
    with httpx.Client(base_url=stack.api_url, timeout=10) as client:
        yield client


def _echo(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()["event"]


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _shape(value):
    """Keys and value types, recursively: what must match between a real and a local event."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__


# ----- routing ----------------------------------------------------------------------------------


def test_gateway_listens_on_loopback(stack):
    assert stack.api_url.startswith("http://127.0.0.1:")


def test_unknown_route_is_404_not_found(api):
    response = api.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_wrong_method_on_a_known_path_is_404(api):
    assert api.delete("/open").status_code == 404


def test_exact_route_beats_a_path_parameter(api, stack):
    headers = _auth(stack.token("alice"))
    assert _echo(api.get("/items/new", headers=headers))["routeKey"] == "GET /items/new"
    event = _echo(api.get("/items/42", headers=headers))
    assert (event["routeKey"], event["pathParameters"]) == ("GET /items/{id}", {"id": "42"})
    event = _echo(api.get("/items/42/parts/7", headers=headers))
    assert event["pathParameters"] == {"id": "42", "part": "7"}


def test_greedy_path_and_any_method_with_binary_response(api):
    response = api.put("/files/a/b/c.bin", content=b"x")
    assert response.status_code == 200
    assert response.content == b"\x00\x01binary\xff"
    assert response.headers["content-type"] == "application/octet-stream"


# ----- the event --------------------------------------------------------------------------------


def test_event_has_the_shape_of_a_real_http_api_v2_event(api, stack):
    response = api.get(
        "/items/42?parameter1=value1&parameter1=value2&parameter2=value",
        headers={**_auth(stack.token("alice")), "cookie": "cookie1; cookie2", "user-agent": "curl/8.5.0"},
    )
    event = _echo(response)
    reference = dict(REFERENCE_EVENT)
    # The sample's claims are the sample's; compare the shape of the rest field by field.
    assert set(event) == set(reference)
    for key in (
        "version",
        "routeKey",
        "rawPath",
        "rawQueryString",
        "cookies",
        "queryStringParameters",
        "pathParameters",
        "isBase64Encoded",
    ):
        assert event[key] == reference[key], key
    assert set(event["headers"]) >= set(reference["headers"]) - {"content-length"}
    context, ref_context = event["requestContext"], reference["requestContext"]
    assert _shape({k: v for k, v in context.items() if k != "authorizer"}) == _shape(
        {k: v for k, v in ref_context.items() if k != "authorizer"}
    )
    assert context["http"] == {
        "method": "GET",
        "path": "/items/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "curl/8.5.0",
    }
    assert (context["routeKey"], context["stage"], context["accountId"]) == (
        "GET /items/{id}",
        "$default",
        "123456789012",
    )
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 60
    time.strptime(context["time"], "%d/%b/%Y:%H:%M:%S +0000")
    assert set(context["authorizer"]["jwt"]) == {"claims", "scopes"}


def _repo_samples():
    if not REPO_EVENTS.is_dir():
        return []
    samples = []
    for path in sorted(REPO_EVENTS.rglob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("version") == "2.0" and "routeKey" in doc:
            samples.append(path)
    return samples


@pytest.mark.parametrize("sample", _repo_samples() or [None], ids=lambda p: p.name if p else "none")
def test_event_matches_the_shape_of_the_repo_samples(api, stack, sample):
    if sample is None:
        pytest.skip("no HTTP API v2 samples under events/ yet")
    reference = json.loads(sample.read_text())
    event = _echo(api.get("/items/1", headers=_auth(stack.token("alice"))))
    optional = {"cookies", "queryStringParameters", "pathParameters", "body", "stageVariables"}
    assert set(reference) - optional <= set(event)
    for key in (
        "accountId",
        "apiId",
        "domainName",
        "http",
        "requestId",
        "routeKey",
        "stage",
        "time",
        "timeEpoch",
    ):
        assert key in event["requestContext"], key
    assert set(reference["requestContext"]["http"]) == set(event["requestContext"]["http"])


def test_headers_are_lower_cased_and_repeated_ones_comma_joined(api):
    response = api.get("/open", headers=[("X-Thing", "a"), ("x-thing", "b"), ("X-Upper", "V")])
    headers = _echo(response)["headers"]
    assert headers["x-thing"] == "a,b"
    assert headers["x-upper"] == "V"
    assert all(name == name.lower() for name in headers)
    assert "cookie" not in headers


def test_open_routes_have_no_authorizer_and_empty_parts_are_omitted(stack):
    event = _echo(httpx.get(stack.api_url + "/open"))  # a fresh client: no cookies from earlier responses
    assert "authorizer" not in event["requestContext"]
    for absent in ("cookies", "queryStringParameters", "pathParameters", "body"):
        assert absent not in event
    assert event["isBase64Encoded"] is False
    assert event["rawQueryString"] == ""


def test_text_bodies_pass_as_text(api):
    event = _echo(api.post("/upload", json={"a": 1}))
    assert (json.loads(event["body"]), event["isBase64Encoded"]) == ({"a": 1}, False)


def test_binary_bodies_are_base64_encoded(api):
    payload = bytes(range(256))
    event = _echo(api.post("/upload", content=payload, headers={"content-type": "image/png"}))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_bodies_over_10_mb_are_rejected_with_413(api):
    response = api.post(
        "/upload", content=b"x" * (10 * 1024 * 1024 + 1), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 413


# ----- responses --------------------------------------------------------------------------------


def test_response_status_headers_and_cookies_are_translated(api):
    response = api.post("/upload", json={})
    assert response.status_code == 201
    assert response.headers["x-echo"] == "yes"
    assert response.headers.get_list("set-cookie") == ["session=abc; Path=/", "theme=dark"]
    assert response.headers["apigw-requestid"]


def test_a_dict_without_status_code_is_a_200_json_response(api):
    response = api.get("/shortcut")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"shortcut": True}


def test_a_raising_handler_is_a_500(api):
    response = api.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


# ----- the JWT authorizer -----------------------------------------------------------------------


def test_valid_token_passes_claims_as_strings(api, stack):
    token = stack.token("alice", email_verified=True, groups=["a", "b"], n=3)
    claims = _echo(api.get("/items/1", headers=_auth(token)))["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "alice"
    assert claims["iss"] == stack.api_url
    assert claims["aud"] == "fixture-aud"
    assert claims["email_verified"] == "true"
    assert claims["groups"] == "[a b]"
    assert claims["n"] == "3"
    assert claims["exp"].isdigit()


def test_scopes_come_from_the_scope_claim(api, stack):
    jwt_ctx = _echo(api.get("/items/1", headers=_auth(stack.token("alice", scope="read write"))))
    assert jwt_ctx["requestContext"]["authorizer"]["jwt"]["scopes"] == ["read", "write"]


def test_bare_token_is_accepted_like_api_gateway(api, stack):
    assert api.get("/items/1", headers={"authorization": stack.token("alice")}).status_code == 200


def test_any_configured_audience_is_accepted(api, stack):
    assert api.get("/items/1", headers=_auth(stack.token("alice", aud="other-aud"))).status_code == 200


def _other_key_token(stack, **claims):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    payload = {
        "iss": stack.api_url,
        "sub": "mallory",
        "aud": "fixture-aud",
        "iat": now,
        "exp": now + 60,
        **claims,
    }
    return jwt.encode(payload, other, algorithm="RS256", headers={"kid": stack.issuer.kid})


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda s: {}, id="missing"),
        pytest.param(lambda s: {"authorization": "Bearer"}, id="empty"),
        pytest.param(lambda s: {"authorization": "Bearer not.a.jwt"}, id="garbage"),
        pytest.param(lambda s: _auth(_other_key_token(s)), id="bad-signature"),
        pytest.param(lambda s: _auth(s.token("alice", aud="someone-else")), id="wrong-audience"),
        pytest.param(lambda s: _auth(s.token("alice", iss="https://evil.example.com")), id="wrong-issuer"),
        pytest.param(lambda s: _auth(s.token("alice", exp=int(time.time()) - 120)), id="expired"),
        pytest.param(lambda s: _auth(s.token("alice", nbf=int(time.time()) + 600)), id="not-yet-valid"),
        pytest.param(
            lambda s: _auth(
                jwt.encode({"iss": s.api_url, "sub": "x", "aud": "fixture-aud", "exp": 2**31}, "k" * 32)
            ),
            id="hs256",
        ),
    ],
)
def test_rejected_tokens_get_401_without_invoking_the_handler(api, stack, make_headers):
    before = stack.runtime.invocations["EchoFunction"]
    response = api.get("/items/1", headers=make_headers(stack))
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert stack.runtime.invocations["EchoFunction"] == before


def test_jwks_and_discovery_are_served(api, stack):
    config = api.get("/.well-known/openid-configuration").json()
    assert config["issuer"] == stack.api_url
    jwks = httpx.get(config["jwks_uri"]).json()
    (key,) = jwks["keys"]
    assert (key["kty"], key["alg"], key["kid"]) == ("RSA", "RS256", stack.issuer.kid)
    # The published key verifies the stack's tokens, as a real authorizer would check.
    public = jwt.PyJWK(key).key
    assert (
        jwt.decode(stack.token("bob"), public, algorithms=["RS256"], audience="fixture-aud")["sub"] == "bob"
    )


def test_the_token_cli_signs_with_the_key_the_stack_trusts(api, stack, capsys):
    from stackrunner import token as token_cli

    port = stack.api_port
    template = str(stack.config.template_path)
    state_dir = stack.config.jwt_state_dir
    original = token_cli.LocalIssuer

    def issuer_in_test_state_dir(issuer, audience):
        return original(issuer, audience, state_dir)

    token_cli.LocalIssuer = issuer_in_test_state_dir
    try:
        assert token_cli.main(["carol", "--port", str(port), "--template", template]) == 0
    finally:
        token_cli.LocalIssuer = original
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1
    event = _echo(api.get("/items/1", headers=_auth(printed.strip())))
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "carol"


def test_a_handler_past_its_timeout_is_reported_as_an_error(api, stack):
    from stackrunner.runtime import FunctionTimeout

    response = api.get("/slow")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    with pytest.raises(FunctionTimeout):
        stack.invoke("SlowFunction", {})
