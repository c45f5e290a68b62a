"""Init images through the client, over real HTTP: the upload slot from
Leonardo, the presigned multipart POST to S3, and reading/deleting the result."""

import json
import logging
import socket
from email.parser import BytesParser
from email.policy import HTTP

import pytest

from gencore.leonardo import (
    LeonardoClient,
    NotFoundError,
    PermanentError,
    RetryableBadResponseError,
    RetryableError,
    RetryPolicy,
    UploadRefusedError,
    UploadRejectedError,
)
from gencore.leonardo.models import GenerationRequest, InitImageUpload
from gencore.leonardo.uploads import host_allowed
from tests.support.scripted import API_KEY, Answer, job_body

pytestmark = pytest.mark.integration

INIT_ID = "9a3e1f52-7c4b-4d8e-a1f0-2b6c8d9e0f13"
KEY = f"users/u-1/initImages/{INIT_ID}.png"
POLICY = "eyJleHBpcmF0aW9uIjogIjIwMzAtMDEtMDFUMDA6MDA6MDBaIn0="
SIGNATURE = "5f2b0c1d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"
FIELDS = {
    "Content-Type": "image/png",
    "bucket": "image-flex-bucket",
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "key": KEY,
    "Policy": POLICY,
    "X-Amz-Signature": SIGNATURE,
}
PICTURE = b"\x89PNG\r\n\x1a\n not really a png, but bytes are bytes"


def origin(server) -> str:
    return server.base_url.removesuffix("/api/rest/v1")


def slot_body(url: str, fields: object = None) -> dict:
    return {
        "uploadInitImage": {
            "id": INIT_ID,
            "url": url,
            "key": KEY,
            "fields": json.dumps(FIELDS) if fields is None else fields,
        }
    }


def slot(url: str) -> InitImageUpload:
    return InitImageUpload.model_validate(slot_body(url)["uploadInitImage"])


@pytest.fixture
def uploader(make_client):
    """A client allowed to upload to the scripted server (plain http: it is on loopback)."""
    return make_client(upload_hosts=("127.0.0.1",))


def form_parts(received) -> list[tuple[str, str | None, str | None, bytes]]:
    """(name, filename, content type, payload) of each multipart part, in order."""
    head = f"Content-Type: {received.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + received.body)
    return [
        (
            part.get_param("name", header="content-disposition"),
            part.get_filename(),
            part.get("content-type"),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    ]


S3_SIGNATURE_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>'
    "<Message>The request signature we calculated does not match the signature you provided.</Message>"
    f"<StringToSign>{POLICY}</StringToSign><SignatureProvided>{SIGNATURE}</SignatureProvided>"
    "<RequestId>4442587FB7D0A2F9</RequestId></Error>"
)


# -- the upload slot -----------------------------------------------------------


def test_upload_init_image_parses_the_slot(server, make_client):
    server.add(Answer(200, slot_body("https://image-flex-bucket.s3-accelerate.amazonaws.com")))
    upload = make_client().upload_init_image("png")

    assert (upload.id, upload.key) == (INIT_ID, KEY)
    assert upload.url == "https://image-flex-bucket.s3-accelerate.amazonaws.com"
    assert upload.fields == FIELDS
    [sent] = server.received
    assert (sent.method, sent.path) == ("POST", "/api/rest/v1/init-image")
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.json() == {"extension": "png"}
    assert SIGNATURE not in repr(upload) and POLICY not in repr(upload)


@pytest.mark.parametrize("extension", ["gif", "PNG", "", ".png"])
def test_unknown_extension_is_refused_before_any_request(server, make_client, extension):
    with pytest.raises(ValueError):
        make_client().upload_init_image(extension)
    assert server.received == []


@pytest.mark.parametrize(
    "body",
    [
        slot_body("https://b.s3.amazonaws.com", fields="{not json"),
        slot_body("https://b.s3.amazonaws.com", fields=json.dumps(["key", KEY])),
        slot_body("https://b.s3.amazonaws.com", fields=FIELDS),  # an object, not a JSON string
        slot_body("https://b.s3.amazonaws.com", fields=json.dumps({**FIELDS, "x-amz-meta": 1})),
        slot_body("https://b.s3.amazonaws.com", fields=json.dumps({"Policy": POLICY})),  # no key
        {"uploadInitImage": None},
        {"uploadInitImage": {"id": INIT_ID, "key": KEY, "fields": json.dumps(FIELDS)}},
        "<html>proxy</html>",
    ],
    ids=["not-json", "json-list", "object", "non-string-value", "no-key", "null", "no-url", "html"],
)
def test_malformed_slot_is_retried_then_bad_response_without_the_fields(server, make_client, sleeps, body):
    server.add(*[Answer(200, body) for _ in range(4)])
    with pytest.raises(RetryableBadResponseError) as caught:
        make_client().upload_init_image("png")
    err = caught.value
    assert (err.code, err.status) == ("leonardo_bad_response", 200)
    assert err.body is None  # the answer may hold a policy and signature
    assert POLICY not in str(err) and SIGNATURE not in str(err)
    assert len(server.received) == 4 and len(sleeps.calls) == 3


def test_slot_request_is_resent_after_a_read_timeout(server, make_client, sleeps):
    """Unlike POST /generations, POST /init-image costs nothing: asking again is safe."""
    url = "https://b.s3.amazonaws.com"
    server.add(Answer(200, slot_body(url), delay=1.0), Answer(200, slot_body(url)))
    assert make_client(read_timeout=0.2).upload_init_image("webp").id == INIT_ID
    assert len(server.received) == 2 and len(sleeps.calls) == 1


def test_image_to_image_generation_sends_wire_names(server, make_client):
    server.add(Answer(200, job_body()))
    make_client().create_generation(GenerationRequest(prompt="p", init_image_id=INIT_ID, init_strength=0.3))
    assert server.received[0].json() == {"prompt": "p", "init_image_id": INIT_ID, "init_strength": 0.3}


# -- the presigned POST --------------------------------------------------------


def test_send_posts_the_fields_then_the_file_without_authorization(server, uploader):
    server.add(Answer(204))
    uploader.send_init_image(slot(f"{origin(server)}/bucket"), PICTURE, "image/png")

    [sent] = server.received
    assert (sent.method, sent.path) == ("POST", "/bucket")
    assert "authorization" not in sent.headers
    assert API_KEY.encode() not in sent.body
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = form_parts(sent)
    assert [(name, value.decode()) for name, _, _, value in parts[:-1]] == list(FIELDS.items())
    assert parts[-1] == ("file", f"{INIT_ID}.png", "image/png", PICTURE)  # the file is last


def test_send_does_not_leak_the_bearer_after_an_api_call(server, uploader):
    """The API client's auth hook must not reach the S3 client, whichever is built first."""
    server.add(Answer(200, slot_body(f"{origin(server)}/bucket")), Answer(204))
    upload = uploader.upload_init_image("png")
    uploader.send_init_image(upload, PICTURE, "image/png")
    assert "authorization" in server.received[0].headers
    assert "authorization" not in server.received[1].headers


@pytest.mark.parametrize(
    ("url", "hosts"),
    [
        ("{origin}/bucket", ("*.amazonaws.com",)),  # the default: the loopback server is not S3
        ("https://evil.example/bucket", ("*.amazonaws.com",)),
        ("https://amazonaws.com/bucket", ("*.amazonaws.com",)),  # the suffix itself is not a subdomain
        ("https://bucket.s3.amazonaws.com.evil.example/", ("*.amazonaws.com",)),
        ("http://bucket.s3.amazonaws.com/", ("*.amazonaws.com",)),  # not https
        ("http://10.0.0.7/bucket", ("10.0.0.7",)),  # plain http only on loopback
        ("https://user:pw@bucket.s3.amazonaws.com/", ("*.amazonaws.com",)),
        ("ftp://bucket.s3.amazonaws.com/", ("*.amazonaws.com",)),
        ("not a url", ("*.amazonaws.com",)),
    ],
)
def test_upload_url_outside_the_allow_list_is_refused_without_connecting(server, make_client, url, hosts):
    client = make_client(upload_hosts=hosts)
    with pytest.raises(UploadRefusedError) as caught:
        client.send_init_image(slot(url.format(origin=origin(server))), PICTURE, "image/png")
    err = caught.value
    assert isinstance(err, PermanentError) and not err.retryable
    assert err.code == "leonardo_upload_refused"
    assert server.received == []
    assert client._upload_http is None  # no HTTP client was even built


@pytest.mark.unit
@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("image-flex-1.s3-accelerate.amazonaws.com", True),
        ("b.s3.us-east-1.amazonaws.com", True),
        ("amazonaws.com", False),
        ("evilamazonaws.com", False),
        ("amazonaws.com.evil.example", False),
        ("uploads.example.org", True),
        ("www.uploads.example.org", False),
    ],
)
def test_host_patterns_are_exact_or_subdomain_wildcards(host, allowed):
    assert host_allowed(host, ("*.amazonaws.com", "uploads.example.org")) is allowed


@pytest.mark.unit
@pytest.mark.parametrize("hosts", [("*",), ("*.com",), ("https://x.example",), ("a b",), ("",), "x.example"])
def test_nonsense_allow_lists_are_refused(hosts):
    with pytest.raises(ValueError, match="upload_hosts"):
        LeonardoClient(api_key=API_KEY, upload_hosts=hosts)


def test_s3_403_is_a_permanent_typed_error_without_the_fields(server, uploader, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    server.add(Answer(403, S3_SIGNATURE_ERROR, headers={"content-type": "application/xml"}))
    with pytest.raises(UploadRejectedError) as caught:
        uploader.send_init_image(slot(f"{origin(server)}/bucket"), PICTURE, "image/png")

    err = caught.value
    assert isinstance(err, PermanentError) and not err.retryable
    assert (err.status, err.code, err.s3_code) == (403, "leonardo_upload_rejected", "SignatureDoesNotMatch")
    assert "SignatureDoesNotMatch" in str(err)
    assert err.body == {"Code": "SignatureDoesNotMatch"}
    rendered = [str(err), repr(err), repr(err.args), repr(err.body)]
    rendered += [record.getMessage() + repr(record.__dict__) for record in caplog.records]
    for text in rendered:
        for secret in (POLICY, SIGNATURE, API_KEY, KEY):
            assert secret not in text
    assert len(server.received) == 1 and sleeps.calls == []


@pytest.mark.parametrize("code", ["EntityTooLarge", "EntityTooSmall", "AccessDenied"])
def test_other_s3_4xx_are_rejections_not_retried(server, uploader, sleeps, code):
    server.add(Answer(400, f"<Error><Code>{code}</Code><Message>m</Message></Error>"))
    with pytest.raises(UploadRejectedError) as caught:
        uploader.send_init_image(slot(f"{origin(server)}/bucket"), PICTURE, "image/png")
    assert caught.value.s3_code == code
    assert sleeps.calls == []


def test_s3_4xx_without_xml_still_raises_typed(server, uploader):
    server.add(Answer(400, "nope"))
    with pytest.raises(UploadRejectedError) as caught:
        uploader.send_init_image(slot(f"{origin(server)}/bucket"), PICTURE, "image/png")
    assert (caught.value.s3_code, caught.value.body) == (None, None)


def test_s3_5xx_is_retried_with_the_same_form(server, uploader, sleeps):
    slow_down = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
    server.add(Answer(503, slow_down), Answer(204))
    uploader.send_init_image(slot(f"{origin(server)}/bucket"), PICTURE, "image/png")
    first, second = server.received
    assert form_parts(first) == form_parts(second)  # no bytes were lost, nothing was added
    assert len(sleeps.calls) == 1


def test_s3_5xx_exhausted_is_retryable(server, uploader):
    server.add(*[Answer(500, "<Error><Code>InternalError</Code></Error>") for _ in range(4)])
    with pytest.raises(RetryableError) as caught:
        uploader.send_init_image(slot(f"{origin(server)}/bucket"), PICTURE, "image/png")
    assert (caught.value.status, caught.value.code) == (500, "leonardo_unavailable")
    assert "InternalError" in str(caught.value)
    assert len(server.received) == 4


def test_read_timeout_on_upload_is_retried(server, make_client, sleeps):
    client = make_client(upload_hosts=("127.0.0.1",), read_timeout=0.2)
    server.add(Answer(204, delay=1.0), Answer(204))
    client.send_init_image(slot(f"{origin(server)}/bucket"), PICTURE, "image/png")
    assert len(server.received) == 2 and len(sleeps.calls) == 1


def test_connection_refused_on_upload_is_retried_then_retryable(make_client, sleeps):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    client = make_client(upload_hosts=("127.0.0.1",), retry=RetryPolicy(3, 0.01, 0.02))
    with pytest.raises(RetryableError) as caught:
        client.send_init_image(slot(f"http://127.0.0.1:{port}/bucket"), PICTURE, "image/png")
    assert "ConnectError" in str(caught.value)
    assert len(sleeps.calls) == 2


def test_close_releases_both_http_clients(server, uploader):
    server.add(Answer(204))
    uploader.send_init_image(slot(f"{origin(server)}/bucket"), PICTURE, "image/png")
    assert uploader._upload_http is not None
    uploader.close()
    assert uploader._upload_http is None and uploader._http is None


# -- reading and deleting ----------------------------------------------------------


def test_init_image_parses(server, make_client):
    url = f"https://cdn.leonardo.ai/users/u-1/initImages/{INIT_ID}.png"
    body = {"init_images_by_pk": {"id": INIT_ID, "url": url, "createdAt": "2026-05-25T14:22:01.000"}}
    server.add(Answer(200, body))
    image = make_client().init_image(INIT_ID)
    assert (image.id, image.url, image.created_at) == (INIT_ID, url, "2026-05-25T14:22:01.000")
    assert server.received[0].path == f"/api/rest/v1/init-image/{INIT_ID}"


def test_delete_init_image_returns_the_id(server, make_client):
    server.add(Answer(200, {"delete_init_images_by_pk": {"id": INIT_ID}}))
    assert make_client().delete_init_image(INIT_ID) == INIT_ID
    assert (server.received[0].method, server.received[0].path) == (
        "DELETE",
        f"/api/rest/v1/init-image/{INIT_ID}",
    )


def test_missing_init_image_is_not_found(server, make_client):
    server.add(
        Answer(200, {"init_images_by_pk": None}),
        Answer(200, {"delete_init_images_by_pk": None}),
        Answer(404, {"error": "not found"}),
    )
    client = make_client()
    for call in (client.init_image, client.delete_init_image, client.init_image):
        with pytest.raises(NotFoundError):
            call(INIT_ID)


def test_init_image_ids_are_quoted_as_one_path_segment(server, make_client):
    server.add(Answer(200, {"delete_init_images_by_pk": {"id": "x"}}))
    make_client().delete_init_image("../generations/x")
    assert server.received[0].raw_path == "/api/rest/v1/init-image/..%2Fgenerations%2Fx"
