"""An edit: a generation made from one of the account's generated images
(`init_generation_image_id`). Its pictures mix that image's bytes, like an image-to-image mixes its
upload's, and its lineage is visible in the admin log and the callback."""

from __future__ import annotations

import httpx
import pytest

from .helpers import WebhookReceiver, client, create, wait_done

pytestmark = pytest.mark.integration


def picture(generation: dict) -> bytes:
    response = httpx.get(generation["generated_images"][0]["url"], timeout=10)
    assert response.status_code == 200
    return response.content


def test_an_edit_is_logged_with_the_generated_image_it_was_made_from(sim):
    with client(sim) as c:
        source = wait_done(c, create(c, prompt="a fox"))["generated_images"][0]["id"]
        edit = create(c, prompt="a fox in snow", init_generation_image_id=source, init_strength=0.4)
    [_, logged] = sim.generation_log()
    assert logged["id"] == edit and logged["initGenerationImageId"] == source
    assert logged["initImageId"] is None
    assert sim.generations[edit].init_generation_image_id == source


def test_an_edit_mixes_the_source_images_bytes_not_its_id(sim):
    """Given two generations with identical requests (so identical bytes under different ids), edits
    of either are the same picture; an edit of another picture, or at another strength, differs."""
    with client(sim) as c:
        twins = [wait_done(c, create(c, prompt="a fox", seed=3)) for _ in range(2)]
        other = wait_done(c, create(c, prompt="a hare", seed=3))
        assert picture(twins[0]) == picture(twins[1])

        def edit(source: dict, strength: float = 0.5) -> bytes:
            image_id = source["generated_images"][0]["id"]
            body = {"prompt": "in snow", "init_generation_image_id": image_id, "init_strength": strength}
            return picture(wait_done(c, create(c, **body)))

        first, second = edit(twins[0]), edit(twins[1])
        assert first == second
        assert edit(other) != first and edit(twins[0], 0.3) != first
        assert picture(wait_done(c, create(c, prompt="in snow"))) != first  # not a text-to-image


def test_the_callback_of_an_edit_names_its_generated_image(start_sim):
    with WebhookReceiver() as receiver:
        sim = start_sim(webhook_url=receiver.url)
        with client(sim) as c:
            source = wait_done(c, create(c))["generated_images"][0]["id"]
            create(c, init_generation_image_id=source)
            deliveries = receiver.wait_for_successful(2)
    edited = deliveries[-1].body["data"]["object"]
    assert (edited["initGeneratedImageId"], edited["initType"], edited["imageToImage"]) == (
        source,
        "GENERATED",
        True,
    )


def test_an_image_of_a_deleted_generation_cannot_be_edited(sim):
    with client(sim) as c:
        generation = wait_done(c, create(c))
        assert c.delete(f"/generations/{generation['id']}").status_code == 200
        image_id = generation["generated_images"][0]["id"]
        answer = c.post("/generations", json={"prompt": "x", "init_generation_image_id": image_id})
    assert answer.status_code == 400 and answer.json()["path"] == "$.init_generation_image_id"
