"""The API key must not leak through exceptions, reprs or logs."""

import logging
import traceback

import pytest

from gencore.leonardo import LeonardoClient, LeonardoError, RetryPolicy
from gencore.leonardo.models import GenerationRequest, InitImageUpload
from tests.support.scripted import API_KEY, GEN_ID, Answer, generation_body

pytestmark = pytest.mark.integration


def _assert_clean(exc: BaseException, caplog) -> None:
    rendered = [str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    if isinstance(exc, LeonardoError):
        rendered.append(repr(exc.body))
    for text in rendered:
        assert API_KEY not in text
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in repr(record.__dict__)


def test_repr_shows_base_url_only(make_client, server):
    client = make_client()
    assert repr(client) == f"LeonardoClient(base_url={server.base_url!r})"
    assert API_KEY not in repr(client) and API_KEY not in str(client)
    assert API_KEY not in repr(vars(client))


@pytest.mark.parametrize(
    "answers",
    [
        [Answer(401, {"error": "bad key"})],
        [Answer(400, "plain text")],
        [Answer(200, "not json")] * 4,
        [Answer(503)] * 4,
        [Answer(429, headers={"Retry-After": "0"})] * 4,
    ],
    ids=["401", "400", "malformed", "5xx", "429"],
)
def test_errors_and_logs_do_not_contain_the_key(server, make_client, caplog, answers):
    caplog.set_level(logging.DEBUG)
    server.add(*answers)
    with pytest.raises(LeonardoError) as caught:
        make_client().get_generation(GEN_ID)
    assert caplog.records  # the failure was logged...
    _assert_clean(caught.value, caplog)  # ...without the key


INIT_IMAGE_CALLS = {
    "upload_init_image": lambda client: client.upload_init_image("png"),
    "init_image": lambda client: client.init_image(GEN_ID),
    "delete_init_image": lambda client: client.delete_init_image(GEN_ID),
}


@pytest.mark.parametrize("call", sorted(INIT_IMAGE_CALLS))
@pytest.mark.parametrize(
    "answers",
    [
        [Answer(401, {"error": "bad key", "received": f"Bearer {API_KEY}"})],
        [Answer(200, f"not json {API_KEY}")] * 4,
        [Answer(503)] * 4,
    ],
    ids=["401-echo", "malformed-echo", "5xx"],
)
def test_init_image_calls_do_not_leak_the_key(server, make_client, caplog, call, answers):
    caplog.set_level(logging.DEBUG)
    server.add(*answers)
    with pytest.raises(LeonardoError) as caught:
        INIT_IMAGE_CALLS[call](make_client())
    assert caplog.records
    _assert_clean(caught.value, caplog)


def test_upload_never_carries_the_key_even_when_s3_fails(server, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    origin = server.base_url.removesuffix("/api/rest/v1")
    upload = InitImageUpload(id="i", url=f"{origin}/bucket", key="k.png", fields='{"key": "k.png"}')
    server.add(Answer(403, f"<Error><Code>AccessDenied</Code><Echo>Bearer {API_KEY}</Echo></Error>"))
    with pytest.raises(LeonardoError) as caught:
        make_client(upload_hosts=("127.0.0.1",)).send_init_image(upload, b"png", "image/png")
    _assert_clean(caught.value, caplog)
    [sent] = server.received
    assert "authorization" not in sent.headers
    assert API_KEY not in repr(sent.headers) and API_KEY.encode() not in sent.body


def test_echoed_key_in_error_body_is_redacted(server, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    server.add(Answer(401, {"error": "bad key", "received": f"Bearer {API_KEY}"}))
    with pytest.raises(LeonardoError) as caught:
        make_client().me()
    assert caught.value.body == {"error": "bad key", "received": "Bearer [REDACTED]"}
    _assert_clean(caught.value, caplog)


def test_timeouts_and_connection_errors_do_not_contain_the_key(server, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    server.add(Answer(200, generation_body(), delay=1.0))
    with pytest.raises(LeonardoError) as caught:
        make_client(read_timeout=0.2).create_generation(GenerationRequest(prompt="p"))
    _assert_clean(caught.value, caplog)

    client = LeonardoClient(
        base_url="http://127.0.0.1:1/api/rest/v1",
        api_key=API_KEY,
        connect_timeout=0.5,
        retry=RetryPolicy(max_attempts=2, base_delay=0, max_delay=0),
    )
    with client, pytest.raises(LeonardoError) as caught:
        client.me()
    _assert_clean(caught.value, caplog)


def test_api_key_is_required():
    with pytest.raises(ValueError) as caught:
        LeonardoClient(base_url="http://127.0.0.1:1", api_key="")
    assert "api_key" in str(caught.value)
