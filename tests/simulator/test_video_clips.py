"""The clip behind a video generation's `motionMP4URL`: a real MP4 that a strict box reader accepts,
as long as the video, one JPEG per frame, frames that reflect the request, the same bytes for the
same request, a poster frame as the image's `url`, and still playable when grown by `output_bytes`."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from leonardo_simulator.mp4 import mjpeg_mp4
from leonardo_simulator.video import FRAMES

from .helpers import client, create, wait_done
from .mp4box import read_mp4

pytestmark = pytest.mark.integration


def video(c: httpx.Client, route: str = "/generations-text-to-video", **body) -> dict:
    body.setdefault("prompt", "A koala surfing at dawn")
    answer = c.post(route, json=body)
    assert answer.status_code == 200, answer.text
    [job] = answer.json().values()
    generation = wait_done(c, job["generationId"])
    assert generation["status"] == "COMPLETE"
    return generation


def fetch(url: str) -> httpx.Response:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    return response


def clip_of(generation: dict) -> bytes:
    response = fetch(generation["generated_images"][0]["motionMP4URL"])
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(response.content)
    return response.content


def frames_of(data: bytes) -> list[Image.Image]:
    pictures = []
    for sample in read_mp4(data).samples:
        picture = Image.open(io.BytesIO(sample))
        assert picture.format == "JPEG"
        picture.load()  # decodes every byte
        pictures.append(picture)
    return pictures


def test_a_clip_is_an_mp4_a_strict_reader_accepts(sim):
    with client(sim) as c:
        data = clip_of(video(c, model="VEO3", duration=6))
    mp4 = read_mp4(data)
    assert mp4.top == [b"ftyp", b"moov", b"mdat"] and mp4.brand == b"isom"
    assert (mp4.handler, mp4.codec, mp4.object_type) == (b"vide", b"mp4v", 0x6C)  # JPEG in MPEG-4
    assert len(mp4.samples) == FRAMES and len(set(mp4.sample_deltas)) == 1


def test_its_length_is_the_requested_duration(sim):
    with client(sim) as c:
        lengths = [read_mp4(clip_of(video(c, model="VEO3", duration=d))).seconds for d in (4, 8)]
        default = read_mp4(clip_of(video(c, model="VEO3FAST"))).seconds
        motion = read_mp4(clip_of(video(c))).seconds
    assert lengths == [4, 8]
    assert default == 8  # the document's default for VEO3 and VEO3FAST
    assert motion == 5  # ours: models without a duration make 5 s clips


def test_every_frame_is_a_jpeg_of_the_tracks_size_in_the_videos_aspect_ratio(sim):
    with client(sim) as c:
        generation = video(c, width=640, height=480)
    frames = frames_of(clip_of(generation))
    mp4 = read_mp4(clip_of(generation))
    assert {frame.size for frame in frames} == {(mp4.width, mp4.height)}
    assert (generation["imageWidth"], generation["imageHeight"]) == (640, 480)
    assert mp4.width * 480 == mp4.height * 640 and max(mp4.width, mp4.height) <= 320


def test_frames_move_and_differ_from_each_other(sim):
    with client(sim) as c:
        frames = frames_of(clip_of(video(c)))
    assert len({frame.tobytes() for frame in frames}) == FRAMES


def test_the_picture_follows_the_prompt_and_seed_and_repeats_for_the_same_request(sim):
    with client(sim) as c:
        first = clip_of(video(c, seed=7))
        again = clip_of(video(c, seed=7))
        other_seed = clip_of(video(c, seed=8))
        other_prompt = clip_of(video(c, seed=7, prompt="A lighthouse in a storm"))
    assert first == again
    assert len({first, other_seed, other_prompt}) == 3


def test_an_image_to_video_clip_shows_its_source_picture(sim):
    with client(sim) as c:
        image = wait_done(c, create(c, width=64, height=64))["generated_images"][0]
        body = {
            "prompt": "slow pan",
            "imageId": image["id"],
            "imageType": "GENERATED",
            "width": 64,
            "height": 64,
        }
        generation = video(c, "/generations-image-to-video", **body)
        source = Image.open(io.BytesIO(fetch(image["url"]).content)).convert("RGB")
    first = frames_of(clip_of(generation))[0]
    # Away from the disc and the frame counter, the first frame is the source picture (JPEG-lossy).
    corner = (60, 60)
    assert all(abs(a - b) < 40 for a, b in zip(first.getpixel(corner), source.getpixel(corner), strict=True))


def test_the_images_url_is_a_poster_the_first_frame(sim):
    with client(sim) as c:
        generation = video(c)
    [image] = generation["generated_images"]
    poster = fetch(image["url"])
    assert image["url"].endswith(".jpg") and poster.headers["content-type"] == "image/jpeg"
    assert poster.content == read_mp4(clip_of(generation)).samples[0]


def test_output_bytes_grows_the_clip_to_that_size_and_it_still_plays(start_sim):
    size = 2 * 1024 * 1024 + 3
    sim = start_sim(output_bytes=size)
    with client(sim) as c:
        data = clip_of(video(c))
    mp4 = read_mp4(data)
    assert len(data) == size
    assert mp4.top == [b"ftyp", b"moov", b"mdat", b"free"] and len(mp4.samples) == FRAMES


def test_the_writer_refuses_an_empty_or_timeless_clip():
    with pytest.raises(ValueError):
        mjpeg_mp4([], 16, 16, 1000)
    with pytest.raises(ValueError):
        mjpeg_mp4([b"\xff\xd8\xff\xd9"], 16, 16, 0)


def test_other_extensions_of_a_video_are_not_found(sim):
    with client(sim) as c:
        url = video(c)["generated_images"][0]["motionMP4URL"]
    assert httpx.get(url.removesuffix(".mp4") + ".png").status_code == 404
