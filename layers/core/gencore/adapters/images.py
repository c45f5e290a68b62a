"""What an uploaded file really is, established with Pillow without trusting its name or type.

Order matters: the format comes from the magic bytes, the size from the header, and only a file
whose header promises at most `max_pixels` is decoded. A decompression bomb (a few KiB that would
inflate to gigabytes) is refused before any pixel is decoded.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageChops, UnidentifiedImageError

from gencore.domain.errors import UploadRejected
from gencore.domain.models import ImageFacts, UploadContentType

FORMATS: dict[str, UploadContentType] = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
MIN_SIDE = 32  # Leonardo's smallest generation side; nothing smaller guides a result


def sniff(data: bytes) -> UploadContentType | None:
    """The image type the magic bytes announce, among the types we take."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


MASK_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})


def check_mask(image: Image.Image) -> None:
    """A usable canvas mask: one channel (or colour channels that are all black and white), and
    neither empty (nothing to paint) nor full (nothing kept). White (>= 128) is the painted area."""
    if image.mode not in MASK_MODES:
        raise UploadRejected(f"A mask cannot be a {image.mode} image", code="mask_not_single_channel")
    if image.mode not in ("1", "L"):
        red, green, blue = image.convert("RGB").split()
        coloured = ImageChops.difference(red, green).getbbox() or ImageChops.difference(red, blue).getbbox()
        if coloured or {value for _, value in red.getcolors(256) or ()} - {0, 255}:
            raise UploadRejected(
                "A mask must be a single-channel image, or black and white only",
                code="mask_not_single_channel",
            )
        image = red
    histogram = image.convert("L").histogram()
    painted = sum(histogram[128:])
    if painted == 0:
        raise UploadRejected("The mask marks nothing to paint (it is all black)", code="mask_empty")
    if painted == sum(histogram):
        raise UploadRejected("The mask keeps nothing of the image (it is all white)", code="mask_full")


class PillowInspector:
    def inspect(self, data: bytes, *, declared: str, max_pixels: int, mask: bool = False) -> ImageFacts:
        actual = sniff(data)
        if actual is None:
            raise UploadRejected("The file is not a PNG, JPEG or WebP image", code="upload_not_an_image")
        if actual != declared:
            raise UploadRejected(
                f"The file is {actual}, but was declared as {declared}", code="upload_type_mismatch"
            )
        fmt = next(name for name, mime in FORMATS.items() if mime == actual)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(data), formats=[fmt])  # reads the header only
                width, height = image.size
                if width * height > max_pixels:
                    raise UploadRejected(
                        f"The image is {width}x{height}; at most {max_pixels} pixels are accepted",
                        code="upload_too_many_pixels",
                    )
                if min(width, height) < MIN_SIDE:
                    raise UploadRejected(
                        f"The image is {width}x{height}; each side must be at least {MIN_SIDE}",
                        code="upload_too_small",
                    )
                if getattr(image, "n_frames", 1) > 1:
                    raise UploadRejected("Animated images are not accepted", code="upload_animated")
                image.load()  # the full decode: truncated or corrupt data fails here
                if mask:
                    check_mask(image)
        except UploadRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            # Pillow's own guard, at open, for headers far beyond ours: the same refusal.
            raise UploadRejected(
                f"The image header claims more than {max_pixels} pixels", code="upload_too_many_pixels"
            ) from error
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
            raise UploadRejected(
                f"The {fmt} image could not be decoded ({type(error).__name__})", code="upload_corrupt"
            ) from error
        return ImageFacts(content_type=actual, width=width, height=height)
