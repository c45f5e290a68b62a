"""HTTP surface: the Leonardo REST routes, the fake CDN, the fake S3 upload bucket
and the admin routes."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import errors, realtime, s3, views
from .catalog import BY_ID
from .config import SimulatorConfig
from .errors import ApiError
from .images import image_key, render_png
from .initimages import UPLOAD_PATH
from .jobs import (
    ANSWER_5XX_AFTER_CREATE,
    ANSWER_MALFORMED,
    ANSWER_MALFORMED_CREATE,
    ANSWER_OK,
    ANSWER_SLOW,
    GenerationRecord,
)
from .largefiles import OUTPUT_TYPES, Body, mp4, padded_mp4, padded_png
from .pricing import calculator_answer, price_request
from .realtime import LCM_ROUTES, validate_lcm_request
from .simulator import Simulator
from .validation import (
    validate_canvas_init_image_request,
    validate_generation_request,
    validate_init_image_request,
)
from .variations import (
    RANDOM_PROMPTS,
    VARIATION_ROUTES,
    VariationRecord,
    improved_prompt,
    prompt_answer,
    variation_answer,
    variation_view,
)
from .video import VIDEO_ROUTES, clip_key, clip_size, render_clip, validate_video_request

API_PREFIX = "/api/rest/v1"
CDN_CHUNKS = 8  # a slow CDN download arrives in this many pieces
# http_5xx_after_create answers one of these: the API itself, or a gateway in front of it.
AFTER_CREATE_5XX = {
    500: "Internal server error",
    502: "Bad gateway",
    504: "Gateway timeout",
}
# Never kept in the generation log.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})

Handler = Callable[[Request, Simulator], Awaitable[Response]]


def _sim(request: Request) -> Simulator:
    return request.app.state.simulator


def _authorized(request: Request, api_key: str) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    # compare_digest: no timing side channel on the key, even in a simulator.
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())


def _api(method: str, path: str, handler: Handler, *, creates: bool = False, limited: bool = False) -> Route:
    """Wrap a REST handler with what every Leonardo route has: request counting,
    auth, injected faults, rate limits, and (optionally) malformed bodies.

    On a `creates` route (every paid POST) the after-create faults apply to its 200
    answers: the thing was created (and charged) before the answer is spoiled. A
    `limited` route also counts against its own create window (POST /generations,
    each variation create)."""
    template = API_PREFIX + path

    async def endpoint(request: Request) -> Response:
        request.state.received_at = views.now()
        sim = _sim(request)
        sim.stats.count_request(method, template)
        if not _authorized(request, sim.cfg.api_key):
            raise errors.unauthorized()
        if sim.faults.roll("http_429"):
            sim.stats.incr("injected_429")
            raise errors.rate_limited(1)
        if sim.faults.roll("http_5xx"):
            sim.stats.incr("injected_5xx")
            raise ApiError(500, "Internal server error (injected by the simulator)", "unexpected")
        create_window = sim.route_limiters.get(path, sim.create_limiter) if limited else None
        for limiter in (sim.all_limiter, create_window):
            if limiter is not None and (wait := limiter.acquire()) is not None:
                sim.stats.incr("rate_limited")
                raise errors.rate_limited(wait)
        response = await handler(request, sim)
        if response.status_code != 200:
            return response
        if creates:
            return await _answer_create(request, sim, response)
        if sim.faults.roll("malformed_json"):
            sim.stats.incr("injected_malformed_json")
            return _truncated(response)
        return response

    return Route(template, endpoint, methods=[method])


def _truncated(response: Response) -> Response:
    return Response(response.body[: len(response.body) // 2], media_type="application/json")


async def _answer_create(request: Request, sim: Simulator, response: Response) -> Response:
    """The 200 answer of a create, after the fact: maybe a 5xx, late, or cut short.

    Every kind is rolled (each from its own generator, a knob at 0 drawing nothing),
    so no knob shifts another's sequence; the first that fired, in the order
    5xx, slow, malformed_create, malformed_json, decides the answer."""
    faults = sim.faults
    # What the create made (a generation or a variation), for its log entry; None: a prompt tool.
    record: GenerationRecord | VariationRecord | None = getattr(request.state, "created", None)
    fail = faults.roll("http_5xx_after_create")
    slow = faults.roll("slow_answer_after_create")
    cut = faults.roll("malformed_create")
    malformed = faults.roll("malformed_json")
    if fail:
        status = faults.choose("http_5xx_after_create", sorted(AFTER_CREATE_5XX))
        sim.stats.incr("injected_5xx_after_create")
        if record is not None:
            sim.record_answer(record, ANSWER_5XX_AFTER_CREATE, status)
        message = f"{AFTER_CREATE_5XX[status]} (injected by the simulator after the create)"
        return errors.error_response(ApiError(status, message, "unexpected"))
    if slow:
        sim.stats.incr("injected_slow_answers")
        if record is not None:
            sim.record_answer(record, ANSWER_SLOW, 200, sent=False)
        await sim.hold_answer(faults.config.slow_answer_seconds, _hung_up(request))
        if record is not None:
            sim.answer_sent(record)
        return response
    if cut or malformed:
        sim.stats.incr("injected_malformed_create" if cut else "injected_malformed_json")
        if record is not None:
            sim.record_answer(record, ANSWER_MALFORMED_CREATE if cut else ANSWER_MALFORMED, 200)
        return _truncated(response)
    if record is not None:
        sim.record_answer(record, ANSWER_OK, 200)
    return response


async def _hung_up(request: Request) -> None:
    """Returns once the client has closed the connection (its body is already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        await asyncio.sleep(0.05)  # not expected after a full body; never spin


def _counted(method: str, template: str, handler: Callable[[Request], Awaitable[Response]]) -> Route:
    async def endpoint(request: Request) -> Response:
        _sim(request).stats.count_request(method, template)
        return await handler(request)

    return Route(template, endpoint, methods=[method])


# -- REST handlers -------------------------------------------------------------


async def _read_json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise ApiError(400, "Error in $: Failed reading: not a valid json value", "invalid-json") from exc


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


async def create_generation(request: Request, sim: Simulator) -> Response:
    accepted = validate_generation_request(await _read_json(request), strict=sim.cfg.strict)
    client = request.client
    record = sim.create_generation(
        accepted,
        _origin(request),
        received_at=request.state.received_at,
        client=f"{client.host}:{client.port}" if client else None,
        headers={k: v for k, v in request.headers.items() if k not in _SECRET_HEADERS},
    )
    request.state.created = record  # for the after-create faults and the log
    return JSONResponse(
        {"sdGenerationJob": {"generationId": record.id, **views.cost_fields(record.cost, sim.cfg.cost_unit)}}
    )


def _create_video(route: str) -> Handler:
    async def handler(request: Request, sim: Simulator) -> Response:
        accepted = validate_video_request(route, await _read_json(request), strict=sim.cfg.strict)
        client = request.client
        record = sim.create_video_generation(
            accepted,
            _origin(request),
            received_at=request.state.received_at,
            client=f"{client.host}:{client.port}" if client else None,
            headers={k: v for k, v in request.headers.items() if k not in _SECRET_HEADERS},
        )
        request.state.created = record  # for the after-create faults and the log
        _, envelope = VIDEO_ROUTES[route]
        cost = views.cost_fields(record.cost, sim.cfg.cost_unit)
        return JSONResponse({envelope: {"generationId": record.id, **cost}})

    return handler


def _lcm(route: str) -> Handler:
    async def handler(request: Request, sim: Simulator) -> Response:
        call = validate_lcm_request(route, await _read_json(request), strict=sim.cfg.strict)
        sim.charge_lcm_call(call.credits)
        # Rendering overlaps the simulated answer time: the answer is due after `lcm_answer_seconds`.
        started = asyncio.get_running_loop().time()
        jpeg = await run_in_threadpool(realtime.render, call)
        left = sim.cfg.lcm_answer_seconds - (asyncio.get_running_loop().time() - started)
        if left > 0:
            await asyncio.sleep(left)
        return JSONResponse(realtime.answer(call, jpeg, views.cost_fields(call.credits, sim.cfg.cost_unit)))

    return handler


async def get_generation(request: Request, sim: Simulator) -> Response:
    generation_id = request.path_params["id"]
    record = sim.store.get(generation_id)
    if record is None:
        raise errors.not_found(f"generation {generation_id} not found")
    sim.store.note(record, "read_at", views.now())
    variations = sim.variations.store.by_source()
    return JSONResponse({"generations_by_pk": views.generation_rest(record, variations)})


async def delete_generation(request: Request, sim: Simulator) -> Response:
    record = sim.delete_generation(request.path_params["id"])
    return JSONResponse({"delete_generations_by_pk": {"id": record.id} if record is not None else None})


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.validation(f"expected Int for '{name}', got {raw!r}", name) from None
    if value < 0:
        raise errors.validation(f"'{name}' must not be negative", name)
    return value


async def list_user_generations(request: Request, sim: Simulator) -> Response:
    offset = _int_param(request, "offset", 0)
    limit = _int_param(request, "limit", 10)
    records = sim.store.by_user(request.path_params["userId"])[offset : offset + limit]
    variations = sim.variations.store.by_source()
    return JSONResponse({"generations": [views.generation_rest(r, variations) for r in records]})


async def get_me(request: Request, sim: Simulator) -> Response:
    return JSONResponse(views.me(sim.cfg, sim.ledger.paid, sim.ledger.subscription))


async def list_platform_models(request: Request, sim: Simulator) -> Response:
    return JSONResponse(views.platform_models(_origin(request)))


async def upload_init_image(request: Request, sim: Simulator) -> Response:
    extension = validate_init_image_request(await _read_json(request), strict=sim.cfg.strict)
    record, fields = sim.create_init_image(extension, _origin(request))
    return JSONResponse({"uploadInitImage": views.upload_slot(record, fields)})


async def upload_canvas_init_image(request: Request, sim: Simulator) -> Response:
    init_ext, mask_ext = validate_canvas_init_image_request(await _read_json(request), strict=sim.cfg.strict)
    init = sim.create_init_image(init_ext, _origin(request))
    mask = sim.create_init_image(mask_ext, _origin(request))
    return JSONResponse({"uploadCanvasInitImage": views.canvas_upload_slots(init, mask)})


def _create_variation(route: str) -> Handler:
    async def handler(request: Request, sim: Simulator) -> Response:
        body = await _read_json(request)
        record = sim.variations.create(route, body, _origin(request), request.state.received_at)
        request.state.created = record  # for the after-create faults and the log
        return JSONResponse(variation_answer(record, sim.cfg.cost_unit))

    return handler


async def get_variation(request: Request, sim: Simulator) -> Response:
    return JSONResponse(variation_view(sim.variations.get(request.path_params["id"])))


async def improve_prompt(request: Request, sim: Simulator) -> Response:
    body = await _read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
        raise errors.validation("prompt is required", "prompt")
    unknown = set(body) - {"prompt", "promptInstructions", "isVideo"}
    if unknown and sim.cfg.strict:
        raise errors.validation(f"unexpected field {sorted(unknown)[0]!r}", sorted(unknown)[0])
    instructions = body.get("promptInstructions")
    if instructions is not None and not isinstance(instructions, str):
        raise errors.validation("expected String for field 'promptInstructions'", "promptInstructions")
    if body.get("isVideo") is not None and not isinstance(body["isVideo"], bool):
        raise errors.validation("expected Boolean for field 'isVideo'", "isVideo")
    sim.charge_prompt_call()
    answer = improved_prompt(body["prompt"], instructions, bool(body.get("isVideo")))
    return JSONResponse(prompt_answer(answer, sim.cfg.cost_unit))


async def random_prompt(request: Request, sim: Simulator) -> Response:
    sim.charge_prompt_call()
    count = sim.stats.snapshot()["prompt_calls"]
    return JSONResponse(prompt_answer(RANDOM_PROMPTS[count % len(RANDOM_PROMPTS)], sim.cfg.cost_unit))


async def pricing_calculator(request: Request, sim: Simulator) -> Response:
    """What a job would cost, from the price list the creates charge by; free (nothing is charged)."""
    credits = price_request(await _read_json(request), strict=sim.cfg.strict)
    return JSONResponse(calculator_answer(credits, sim.cfg.cost_unit))


async def get_init_image(request: Request, sim: Simulator) -> Response:
    record = sim.get_init_image(request.path_params["id"])
    return JSONResponse({"init_images_by_pk": views.init_image_rest(record)})


async def delete_init_image(request: Request, sim: Simulator) -> Response:
    record = sim.delete_init_image(request.path_params["id"])
    return JSONResponse({"delete_init_images_by_pk": {"id": record.id}})


# -- CDN (no auth, like cdn.leonardo.ai) -------------------------------------------


async def _cdn_response(
    sim: Simulator, body: bytes | Body, media_type: str = "image/png", *, of: GenerationRecord | None = None
) -> Response:
    """A CDN file's answer; `of`, a generation's file, is noted in that generation's log entry."""
    sim.stats.incr("cdn_downloads")
    if of is not None:
        sim.store.note(of, "downloaded_at", views.now())
    size = body.size if isinstance(body, Body) else len(body)
    headers = {"content-length": str(size), "cache-control": "public, max-age=31536000, immutable"}
    delay = sim.faults.config.cdn_delay_seconds
    if isinstance(body, Body):
        return StreamingResponse(_paced(body, delay), media_type=media_type, headers=headers)
    if delay <= 0:
        return Response(body, media_type=media_type, headers=headers)
    whole, piece = body, max(1, math.ceil(size / CDN_CHUNKS))
    pieces = Body(size, lambda: (whole[start : start + piece] for start in range(0, size, piece)))
    return StreamingResponse(_paced(pieces, delay), media_type=media_type, headers=headers)


async def _paced(body: Body, delay: float) -> AsyncIterator[bytes]:
    """The body block by block; with a delay, a pause each time another 1/CDN_CHUNKS of it is due."""
    sent = paused = 0
    for block in body.blocks():
        while delay > 0 and paused < CDN_CHUNKS and sent >= paused * body.size / CDN_CHUNKS:
            await asyncio.sleep(delay / CDN_CHUNKS)
            paused += 1
        yield block
        sent += len(block)


async def cdn_generation_image(request: Request) -> Response:
    sim = _sim(request)
    params = request.path_params
    image_id, dot, ext = params["image_file"].partition(".")
    if not dot:
        raise errors.not_found("image not found")
    record, image = sim.find_image(params["generation_id"], image_id)
    if record.user_id != params["user_id"]:
        raise errors.not_found("image not found")
    if record.video is not None:
        return await _cdn_video(sim, record, ext)
    if ext != OUTPUT_TYPES[sim.cfg.output_type]:
        raise errors.not_found("image not found")
    key = image_key(record.prompt, record.seed, image.index, record.init_fingerprint)
    if sim.cfg.output_type == "video/mp4":
        return await _cdn_response(sim, mp4(sim.cfg.output_bytes, key), "video/mp4", of=record)
    png = await run_in_threadpool(
        render_png,
        record.prompt,
        record.seed,
        image.index,
        record.width,
        record.height,
        record.init_fingerprint,
    )
    return await _cdn_response(
        sim, padded_png(png, sim.cfg.output_bytes, key) if sim.cfg.output_bytes else png, of=record
    )


async def _cdn_video(sim: Simulator, record: GenerationRecord, ext: str) -> Response:
    """A video generation's files: `.mp4` the clip (grown to `output_bytes` when set), `.jpg` its
    first frame (the generated image's `url`, a poster)."""
    video = record.video
    assert video is not None
    if ext not in ("mp4", "jpg"):
        raise errors.not_found("image not found")
    words = f"{video.kind}:{video.model}:{video.resolution}:{video.motion_strength}"
    key = clip_key(record.prompt, record.seed, words, record.init_fingerprint)
    width, height = clip_size(record.width, record.height)
    motion = video.motion_strength or 5
    clip, poster = await run_in_threadpool(
        render_clip, key, width, height, video.duration_seconds, motion, video.source_picture
    )
    if ext == "jpg":
        return await _cdn_response(sim, poster, "image/jpeg", of=record)
    body = padded_mp4(clip, sim.cfg.output_bytes, key) if sim.cfg.output_bytes else clip
    return await _cdn_response(sim, body, "video/mp4", of=record)


async def cdn_variation_image(request: Request) -> Response:
    sim = _sim(request)
    variation_id, dot, ext = request.path_params["image_file"].partition(".")
    if not dot or ext != "png":
        raise errors.not_found("image not found")
    png = await run_in_threadpool(sim.variations.png, variation_id)
    return await _cdn_response(sim, png)


async def admin_variations(request: Request) -> Response:
    return JSONResponse(_sim(request).variation_log())


async def cdn_model_preview(request: Request) -> Response:
    sim = _sim(request)
    model = BY_ID.get(request.path_params["model_id"])
    if model is None:
        raise errors.not_found("image not found")
    png = await run_in_threadpool(render_png, model.name, 0, 0, 256, 256)
    return await _cdn_response(sim, png)


async def cdn_init_image(request: Request) -> Response:
    """Uploaded bytes as they were posted; 404 before the upload and after a delete."""
    sim = _sim(request)
    params = request.path_params
    image_id, _, ext = params["image_file"].partition(".")
    record = sim.init_images.get(image_id)
    if (
        record is None
        or record.content is None
        or record.user_id != params["user_id"]
        or record.extension != ext
    ):
        raise errors.not_found("image not found")
    return await _cdn_response(sim, record.content, record.content_type)


# -- admin (no Leonardo auth; loopback clients only) ---------------------------------


def _loopback_only(request: Request) -> None:
    host = request.client.host if request.client else ""
    if not (host.startswith("127.") or host in {"::1", "localhost"}):
        raise ApiError(403, "admin routes are for loopback clients only", "forbidden")


async def admin_get_faults(request: Request) -> Response:
    _loopback_only(request)
    return JSONResponse(_sim(request).faults.config.to_dict())


async def admin_set_faults(request: Request) -> Response:
    """Partial update: only the fields in the body change; the RNGs are reseeded."""
    _loopback_only(request)
    sim = _sim(request)
    changes = await _read_json(request)
    if not isinstance(changes, dict):
        raise errors.validation("expected an object of fault settings")
    try:
        faults = sim.faults.config.updated(changes)
    except ValueError as exc:
        raise errors.validation(str(exc)) from None
    sim.set_faults(faults)
    return JSONResponse(faults.to_dict())


async def admin_stats(request: Request) -> Response:
    _loopback_only(request)
    return JSONResponse(_sim(request).stats.snapshot())


async def admin_generations(request: Request) -> Response:
    """The request log: every generation created since the last reset, oldest first."""
    _loopback_only(request)
    return JSONResponse(_sim(request).generation_log())


async def admin_reset(request: Request) -> Response:
    _loopback_only(request)
    await _sim(request).reset()
    return JSONResponse({"reset": True})


# -- application ---------------------------------------------------------------


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    response = errors.error_response(exc)
    if exc.status == 429 and not _sim(request).cfg.send_retry_after:
        del response.headers["retry-after"]  # the documents do not promise one
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    # Unknown routes and wrong methods answer in the same shape as everything else.
    assert isinstance(exc, HTTPException)
    code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "unexpected")
    return errors.error_response(ApiError(exc.status_code, str(exc.detail), code))


def create_app(cfg: SimulatorConfig | None = None) -> Starlette:
    sim = Simulator(cfg or SimulatorConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sim.start()
        try:
            yield
        finally:
            await sim.stop()

    routes = [
        _api("POST", "/generations", create_generation, creates=True, limited=True),
        _api("GET", "/generations/{id}", get_generation),
        _api("DELETE", "/generations/{id}", delete_generation),
        _api("GET", "/generations/user/{userId}", list_user_generations),
        _api("GET", "/me", get_me),
        _api("GET", "/platformModels", list_platform_models),
        _api("POST", "/init-image", upload_init_image),
        _api("GET", "/init-image/{id}", get_init_image),
        _api("DELETE", "/init-image/{id}", delete_init_image),
        _api("POST", "/canvas-init-image", upload_canvas_init_image),
        *(
            _api("POST", route, _create_variation(route), creates=True, limited=True)
            for route in VARIATION_ROUTES
        ),
        _api("GET", "/variations/{id}", get_variation),
        *(_api("POST", route, _create_video(route), creates=True, limited=True) for route in VIDEO_ROUTES),
        *(_api("POST", route, _lcm(route), creates=True) for route in LCM_ROUTES),
        _api("POST", "/prompt/improve", improve_prompt, creates=True),
        _api("POST", "/prompt/random", random_prompt, creates=True),
        _api("POST", "/pricing-calculator", pricing_calculator),
        _counted(
            "GET",
            "/cdn/users/{user_id}/generations/{generation_id}/{image_file}",
            cdn_generation_image,
        ),
        _counted("GET", "/cdn/models/{model_id}/preview.png", cdn_model_preview),
        _counted("GET", "/cdn/variations/{image_file}", cdn_variation_image),
        _counted("GET", "/cdn/users/{user_id}/initImages/{image_file}", cdn_init_image),
        # No Leonardo auth, no injected faults: the bucket is S3, not Leonardo.
        _counted("POST", UPLOAD_PATH, s3.post_object),
        _counted("GET", "/_admin/faults", admin_get_faults),
        _counted("POST", "/_admin/faults", admin_set_faults),
        _counted("GET", "/_admin/stats", admin_stats),
        _counted("GET", "/_admin/generations", admin_generations),
        _counted("GET", "/_admin/variations", admin_variations),
        _counted("POST", "/_admin/reset", admin_reset),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.simulator = sim
    return app
