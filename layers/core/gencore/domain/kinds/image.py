"""Image generations: text-to-image, image-to-image from an upload, edits of our own outputs, and
canvas jobs (inpaint, outpaint, sketch-to-image) from an upload and a mask.

All are one Leonardo route, `POST /generations`; what differs is the image that guides the result:
none, one of the caller's uploads (`init_image_id`), one of our outputs (`init_generation_image_id`,
Leonardo's id of an image it generated for us), or a canvas pair (`canvasInitId`, `canvasMaskId`,
handed over together through `/canvas-init-image`). ControlNets add images of their own: each is
one of the caller's uploads, handed over as an init image and named in `controlnets[].initImageId`.
"""

from __future__ import annotations

from typing import Any

from .base import Kind, LeonardoCall, Refs


def generation_call(request: dict[str, Any], refs: Refs, seed: int | None) -> LeonardoCall:
    """Our normalized request -> the body of `POST /generations`."""
    # Only the submitter builds calls: the recipes and their parameter rules load here, not at the
    # init of every function that looks a kind up (the processor, the reconciler).
    from ..recipes import to_leonardo

    body = to_leonardo(request, init_image_ids=refs.guide_image_ids)
    body["seed"] = seed if seed is not None else request.get("seed")
    if refs.canvas_init_id:
        mode = (request.get("canvas") or {}).get("mode", "img2img")
        canvas = {"canvasRequestType": mode.upper(), "canvasInitId": refs.canvas_init_id}
        body |= {"canvasRequest": True, "canvasMaskId": refs.canvas_mask_id} | canvas
    guide = {"init_image_id": refs.init_image_id, "init_generation_image_id": refs.generated_image_id}
    guide = {name: value for name, value in guide.items() if value}
    if guide or refs.canvas_init_id:
        body |= guide
        if request.get("init_strength") is not None:
            body["init_strength"] = request["init_strength"]
    body["public"] = False  # outputs of our users never go to Leonardo's community feed
    return LeonardoCall(route="/generations", body={k: v for k, v in body.items() if v is not None})


KINDS = (
    Kind(name="text_to_image", remote="generation", build=generation_call),
    Kind(name="image_to_image", remote="generation", build=generation_call),
    Kind(name="edit", remote="generation", build=generation_call),
    Kind(name="inpaint", remote="generation", build=generation_call),
    Kind(name="outpaint", remote="generation", build=generation_call),
    Kind(name="sketch2img", remote="generation", build=generation_call),
)
