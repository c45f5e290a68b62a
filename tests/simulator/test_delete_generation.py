"""DELETE /generations/{id}, as Hasura's delete-by-key behind Leonardo answers it: the deleted id,
then `null` for a repeat (the document makes `delete_generations_by_pk` nullable); an id never seen
is a 404. The record stays in the admin log, marked deleted."""

from __future__ import annotations

import pytest

from .helpers import client, create, wait_done

pytestmark = pytest.mark.integration
UNKNOWN = "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"


def test_a_delete_answers_the_id_and_a_repeat_answers_null(sim):
    with client(sim) as c:
        generation_id = create(c)
        first = c.delete(f"/generations/{generation_id}")
        again = c.delete(f"/generations/{generation_id}")
        gone = c.get(f"/generations/{generation_id}")
    assert (first.status_code, first.json()) == (200, {"delete_generations_by_pk": {"id": generation_id}})
    assert (again.status_code, again.json()) == (200, {"delete_generations_by_pk": None})
    assert gone.status_code == 404
    [logged] = sim.generation_log()
    assert logged["deleted"] is True and sim.stats()["generations_deleted"] == 1


def test_an_unknown_generation_is_a_404(sim):
    with client(sim) as c:
        answer = c.delete(f"/generations/{UNKNOWN}")
    assert answer.status_code == 404 and answer.json()["code"] == "not-found"


def test_a_deleted_generations_images_are_no_longer_sources(sim):
    with client(sim) as c:
        generation = wait_done(c, create(c))
        c.delete(f"/generations/{generation['id']}")
        answer = c.post("/variations/upscale", json={"id": generation["generated_images"][0]["id"]})
    assert answer.status_code == 400 and sim.stats()["variations_created"] == 0
