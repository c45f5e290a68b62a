"""The model catalog, read as a specification (domain/model_catalog.py): what Leonardo documents per
model family that /platformModels does not say, and the strictest answer for a model we do not know."""

from __future__ import annotations

import pytest

from gencore.domain.model_catalog import (
    CATALOG_VERSION,
    FAMILIES,
    FLUX_SEED_CAP,
    MODELS,
    SEED_CAP,
    family_of,
    model_info,
)

pytestmark = pytest.mark.unit
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
FLUX_DEV = "b2614463-296c-462a-9586-aafdb8f00e36"
KINO_XL = "aa77f04e-3eec-4034-9c07-d0f619684628"
ANIME_XL = "e71a1c2f-4f80-4800-934f-2c68979d8cc8"
LIGHTNING_XL = "b24e16ff-06e3-43eb-8d33-4416c2d75876"
UNKNOWN = "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"


def test_the_catalog_is_versioned():
    assert CATALOG_VERSION == "2026-12-04"


@pytest.mark.parametrize(
    ("model_id", "family"),
    [(PHOENIX, "phoenix"), (FLUX_DEV, "flux"), (KINO_XL, "sdxl"), (LIGHTNING_XL, "sdxl_lightning")],
)
def test_a_known_model_belongs_to_its_family(model_id, family):
    assert family_of(model_id).name == family


def test_a_model_id_is_looked_up_whatever_its_case():
    assert family_of(PHOENIX.upper()).name == "phoenix"


def test_flux_seeds_are_capped_lower_than_other_models():
    assert (family_of(FLUX_DEV).seed_cap, family_of(PHOENIX).seed_cap) == (FLUX_SEED_CAP, SEED_CAP)


def test_an_unknown_model_gets_the_strictest_family():
    # Given a model id we do not list, When it is looked up, Then it has the smallest seed cap and
    # none of the family-specific features.
    family = family_of(UNKNOWN)
    assert family.seed_cap == min(f.seed_cap for f in FAMILIES.values())
    assert not (family.contrast or family.ultra or family.photo_real_v2 or family.preprocessors)
    assert model_info(UNKNOWN) is None


def test_no_model_at_all_gets_the_strictest_family():
    assert family_of(None).name == "unknown"


def test_an_unlisted_model_is_placed_by_its_sd_version_when_known():
    assert family_of(UNKNOWN, sd_version="SDXL_1_0").name == "sdxl"


def test_photo_real_v2_is_only_on_kino_diffusion_and_vision_xl():
    assert {m.name for m in MODELS.values() if m.photo_real_v2} == {
        "Leonardo Kino XL", "Leonardo Diffusion XL", "Leonardo Vision XL",
    }  # fmt: skip
    assert not model_info(ANIME_XL).photo_real_v2


def test_contrast_is_taken_by_phoenix_and_flux_with_phoenix_floored_under_alchemy():
    assert family_of(PHOENIX).contrast and family_of(FLUX_DEV).contrast and not family_of(KINO_XL).contrast
    assert family_of(PHOENIX).alchemy_contrast_min == 2.5


def test_ultra_mode_is_phoenix_only():
    assert [name for name, family in FAMILIES.items() if family.ultra] == ["phoenix"]


def test_sdxl_preprocessors_follow_leonardos_image_guidance_table():
    preprocessors = family_of(KINO_XL).preprocessors
    assert sorted(preprocessors) == [19, 20, 21, 22, 67, 100, 133]
    assert preprocessors[67].name == "style_reference" and preprocessors[67].weight == (0.0, 2.0)
    assert preprocessors[133].strength_types == {"Low", "Mid", "High"}
    assert not preprocessors[19].strength_types


def test_phoenix_takes_only_its_style_reference():
    assert list(family_of(PHOENIX).preprocessors) == [166]


def test_xl_models_with_an_init_image_take_only_style_and_character_reference():
    assert family_of(LIGHTNING_XL).with_init_image == {67, 133}


def test_transparency_is_documented_for_kino_xl():
    assert [m.name for m in MODELS.values() if m.transparency] == ["Leonardo Kino XL"]
