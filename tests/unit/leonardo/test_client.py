"""The client's happy paths and error classification, over real HTTP."""

import pytest

from gencore.leonardo import (
    AuthError,
    BadResponseError,
    LeonardoError,
    NotFoundError,
    OutcomeUnknownError,
    PermanentError,
    RetryableBadResponseError,
    RetryableError,
)
from gencore.leonardo.models import Generation, GenerationJob, GenerationRequest
from tests.support.scripted import API_KEY, GEN_ID, USER_ID, Answer, generation_body, job_body

pytestmark = pytest.mark.integration

REQUEST = GenerationRequest(prompt="a lake", model_id="m-1", width=512, height=512, num_images=1, seed=42)


def test_create_generation_sends_wire_names_and_auth(server, make_client):
    server.add(Answer(200, job_body(cost=0.024)))
    job = make_client().create_generation(REQUEST)

    assert isinstance(job, GenerationJob)
    assert job.generation_id == GEN_ID
    assert job.api_credit_cost == pytest.approx(0.024)
    [sent] = server.received
    assert (sent.method, sent.path) == ("POST", "/api/rest/v1/generations")
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["accept"] == "application/json"
    assert sent.json() == {
        "prompt": "a lake",
        "modelId": "m-1",
        "width": 512,
        "height": 512,
        "num_images": 1,
        "seed": 42,
    }


@pytest.mark.parametrize("cost", [3, 0.5, None])
def test_api_credit_cost_accepts_int_float_and_null(server, make_client, cost):
    server.add(Answer(200, job_body(cost=cost)))
    assert make_client().create_generation(REQUEST).api_credit_cost == cost


def test_get_generation_parses_and_ignores_new_fields(server, make_client):
    server.add(Answer(200, generation_body("COMPLETE")))
    gen = make_client().get_generation(GEN_ID)

    assert isinstance(gen, Generation)
    assert (gen.id, gen.status, gen.prompt) == (GEN_ID, "COMPLETE", "a lake")
    assert (gen.image_width, gen.image_height) == (512, 512)
    assert gen.created_at == "2026-05-25T14:22:01.000Z"
    assert gen.model_id == "b24e16ff-06e3-43eb-8d33-4416c2d75876"
    assert [(i.id, i.nsfw) for i in gen.generated_images] == [("img-1", False)]
    assert server.received[0].path == f"/api/rest/v1/generations/{GEN_ID}"


def test_ids_are_quoted_as_one_path_segment(server, make_client):
    server.add(Answer(200, generation_body()))
    make_client().get_generation("../me")
    assert server.received[0].raw_path == "/api/rest/v1/generations/..%2Fme"


def test_get_generation_404_raises_not_found(server, make_client, sleeps):
    server.add(Answer(404, {"error": "not found", "code": "not-found"}))
    with pytest.raises(NotFoundError) as caught:
        make_client().get_generation(GEN_ID)
    assert (caught.value.status, caught.value.code) == (404, "leonardo_not_found")
    assert caught.value.body == {"error": "not found", "code": "not-found"}
    assert isinstance(caught.value, PermanentError)
    assert sleeps.calls == []


def test_null_by_pk_is_not_found(server, make_client):
    server.add(Answer(200, {"generations_by_pk": None}), Answer(200, {"delete_generations_by_pk": None}))
    client = make_client()
    with pytest.raises(NotFoundError):
        client.get_generation(GEN_ID)
    with pytest.raises(NotFoundError):
        client.delete_generation(GEN_ID)


def test_delete_generation_returns_deleted_id(server, make_client):
    server.add(Answer(200, {"delete_generations_by_pk": {"id": GEN_ID}}))
    assert make_client().delete_generation(GEN_ID) == GEN_ID
    assert server.received[0].method == "DELETE"


def test_list_user_generations_passes_paging(server, make_client):
    body = generation_body("PENDING")["generations_by_pk"]
    server.add(Answer(200, {"generations": [body, {**body, "id": "other"}]}))
    gens = make_client().list_user_generations(USER_ID, offset=20, limit=2)
    assert [g.id for g in gens] == [GEN_ID, "other"]
    assert [g.status for g in gens] == ["PENDING", "PENDING"]
    sent = server.received[0]
    assert sent.path == f"/api/rest/v1/generations/user/{USER_ID}"
    assert sorted(sent.query.split("&")) == ["limit=2", "offset=20"]


def test_me_flattens_user(server, make_client):
    server.add(
        Answer(
            200,
            {
                "user_details": [
                    {
                        "user": {"id": USER_ID, "username": "example-user"},
                        "apiPaidTokens": 12.4567,
                        "apiSubscriptionTokens": 0,
                        "apiConcurrencySlots": 5,
                        "apiPlanTokenRenewalDate": None,
                    }
                ]
            },
        )
    )
    me = make_client().me()
    assert (me.user_id, me.username, me.api_concurrency_slots) == (USER_ID, "example-user", 5)
    assert me.api_paid_tokens == pytest.approx(12.4567)
    assert me.api_subscription_tokens == 0


def test_platform_models(server, make_client):
    server.add(
        Answer(
            200,
            {
                "custom_models": [
                    {
                        "id": "b24e16ff-06e3-43eb-8d33-4416c2d75876",
                        "name": "Leonardo Phoenix",
                        "description": "d",
                        "nsfw": False,
                        "featured": True,
                        "generated_image": {"id": "x", "url": "https://cdn.leonardo.ai/x.jpg"},
                    }
                ]
            },
        )
    )
    [model] = make_client().platform_models()
    assert (model.name, model.featured) == ("Leonardo Phoenix", True)
    assert model.generated_image is not None
    assert server.received[0].path == "/api/rest/v1/platformModels"


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_permanent(server, make_client, sleeps, status):
    server.add(Answer(status, {"error": "Invalid token"}))
    with pytest.raises(AuthError) as caught:
        make_client().me()
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (
        status,
        "leonardo_auth",
        False,
    )
    assert sleeps.calls == [] and len(server.received) == 1


def test_validation_400_is_rejected_not_retried(server, make_client, sleeps):
    server.add(Answer(400, {"error": "width must be a multiple of 8", "code": "unexpected"}))
    with pytest.raises(PermanentError) as caught:
        make_client().create_generation(REQUEST)
    err = caught.value
    assert type(err) is PermanentError
    assert (err.status, err.code, err.body["error"]) == (
        400,
        "leonardo_rejected",
        "width must be a multiple of 8",
    )
    assert sleeps.calls == [] and len(server.received) == 1


def test_non_json_error_body_is_truncated_text(server, make_client):
    server.add(Answer(422, "x" * 5000))
    with pytest.raises(PermanentError) as caught:
        make_client().me()
    assert caught.value.body == "x" * 500


def test_malformed_json_on_get_is_retried_then_retryable(server, make_client, sleeps):
    server.add(*[Answer(200, "{not json") for _ in range(4)])
    with pytest.raises(RetryableBadResponseError) as caught:
        make_client().get_generation(GEN_ID)
    err = caught.value
    assert isinstance(err, RetryableError) and isinstance(err, BadResponseError)
    assert (err.code, err.status, err.retryable) == ("leonardo_bad_response", 200, True)
    assert len(server.received) == 4 and len(sleeps.calls) == 3


def test_malformed_json_on_get_recovers(server, make_client):
    server.add(Answer(200, "<html>proxy</html>"), Answer(200, generation_body()))
    assert make_client().get_generation(GEN_ID).status == "COMPLETE"


def test_wrong_shape_on_get_is_bad_response(server, make_client):
    bad = generation_body()
    del bad["generations_by_pk"]["status"]
    server.add(*[Answer(200, bad) for _ in range(4)])
    with pytest.raises(BadResponseError) as caught:
        make_client().get_generation(GEN_ID)
    assert "generations_by_pk.status" in str(caught.value)


@pytest.mark.parametrize("body", ["{truncated", {"sdGenerationJob": None}, {"sdGenerationJob": {"x": 1}}])
def test_malformed_answer_to_post_is_outcome_unknown_not_retried(server, make_client, sleeps, body):
    server.add(Answer(200, body), Answer(200, job_body()))
    with pytest.raises(BadResponseError) as caught:
        make_client().create_generation(REQUEST)
    err = caught.value
    assert not isinstance(err, RetryableError)
    assert isinstance(err, OutcomeUnknownError)  # Leonardo acted; we cannot tell on what
    assert (err.code, err.retryable) == ("leonardo_bad_response", False)
    assert len(server.received) == 1 and sleeps.calls == []


def test_every_error_is_a_leonardo_error_with_status_code_body(server, make_client):
    server.add(Answer(409, {"error": "conflict"}))
    with pytest.raises(LeonardoError) as caught:
        make_client().me()
    assert (caught.value.status, caught.value.code, caught.value.body) == (
        409,
        "leonardo_rejected",
        {"error": "conflict"},
    )


def test_client_is_lazy_reusable_and_closable(server, make_client):
    client = make_client()
    assert client._http is None  # nothing is opened until the first call
    server.add(Answer(200, generation_body()), Answer(200, generation_body()), Answer(200, generation_body()))
    client.get_generation(GEN_ID)
    first = client._http
    client.get_generation(GEN_ID)
    assert client._http is first
    client.close()
    assert client._http is None
    client.get_generation(GEN_ID)  # reconnects lazily after close
    assert len(server.received) == 3


def test_context_manager_closes(server, make_client):
    server.add(Answer(200, generation_body()))
    with make_client() as client:
        client.get_generation(GEN_ID)
    assert client._http is None


@pytest.mark.parametrize("bad", ["", None])
def test_empty_ids_are_refused_locally(make_client, bad):
    with pytest.raises(ValueError):
        make_client().get_generation(bad)
