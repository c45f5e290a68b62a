"""Canvas masks, read as a specification: checked when the mask upload is completed, before any
paid call. A mask is single-channel, or black and white only; white marks the area to paint, and a
mask that marks nothing, or everything, is refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from gencore.adapters.images import PillowInspector
from gencore.domain.errors import UploadRejected

pytestmark = pytest.mark.unit
MAX_PIXELS = 4096 * 4096


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def painted(mode: str, colour, *, size=(64, 48)) -> Image.Image:
    image = Image.new(mode, size, 0 if mode in ("1", "L") else (0, 0, 0)[: len(mode)])
    ImageDraw.Draw(image).rectangle((8, 8, 31, 23), fill=colour)
    return image


def inspect(image: Image.Image):
    return PillowInspector().inspect(png(image), declared="image/png", max_pixels=MAX_PIXELS, mask=True)


@pytest.mark.parametrize(
    "image",
    [
        painted("L", 255),
        painted("1", 1),
        painted("RGB", (255, 255, 255)),
        painted("RGBA", (255, 255, 255, 255)),
    ],
    ids=["greyscale", "one-bit", "black and white RGB", "black and white RGBA"],
)
def test_a_single_channel_or_black_and_white_mask_is_accepted(image):
    facts = inspect(image)
    assert (facts.width, facts.height) == (64, 48)


def test_a_coloured_mask_is_refused():
    with pytest.raises(UploadRejected) as refused:
        inspect(painted("RGB", (255, 0, 0)))
    assert refused.value.code == "mask_not_single_channel"


def test_a_grey_mask_in_colour_channels_is_refused_as_not_two_level():
    with pytest.raises(UploadRejected) as refused:
        inspect(painted("RGB", (128, 128, 128)))
    assert refused.value.code == "mask_not_single_channel"


@pytest.mark.parametrize(("fill", "code"), [(0, "mask_empty"), (255, "mask_full")])
def test_a_mask_that_marks_nothing_or_everything_is_refused(fill, code):
    with pytest.raises(UploadRejected) as refused:
        inspect(Image.new("L", (64, 48), fill))
    assert refused.value.code == code


def test_the_same_file_as_an_init_image_is_not_checked_as_a_mask():
    image = Image.new("L", (64, 48), 0)
    assert PillowInspector().inspect(png(image), declared="image/png", max_pixels=MAX_PIXELS).width == 64
