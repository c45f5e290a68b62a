"""Typed views of Leonardo's request and response bodies.

Field aliases copy Leonardo's wire names exactly, including its mix of
camelCase and snake_case (``modelId`` next to ``num_images``); Python
attributes are always snake_case. The request model forbids unknown fields so
a typo fails here rather than being silently ignored by Leonardo after we
have paid for the generation; response models ignore unknown fields because
Leonardo adds fields without notice, but require every field we read.
"""

import json
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

GenerationStatus = Literal["PENDING", "COMPLETE", "FAILED"]
InitImageExtension = Literal["png", "jpg", "jpeg", "webp"]


class _Request(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    def to_payload(self) -> dict[str, Any]:
        """The JSON body Leonardo expects: wire names, unset fields omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _Response(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)
    #: True when the raw answer holds credentials (presigned upload fields), so
    #: an error about a malformed answer must not carry the body along.
    conceals_body: ClassVar[bool] = False


class ElementInput(_Request):
    ak_uuid: str = Field(alias="akUUID", min_length=1)
    weight: float | None = None


class UserElementInput(_Request):
    user_lora_id: int = Field(alias="userLoraId")
    weight: float | None = None


class ControlnetInput(_Request):
    """One item of ``controlnets``: a guide image (uploaded, or one of our generated images)
    and the preprocessor that reads it (ids are listed in Leonardo's guides)."""

    init_image_id: str = Field(alias="initImageId", min_length=1)
    init_image_type: Literal["GENERATED", "UPLOADED"] | None = Field(default=None, alias="initImageType")
    preprocessor_id: int | float = Field(alias="preprocessorId")
    weight: float | None = None
    # Style, Character and Content Reference controlnets only.
    strength_type: Literal["Low", "Mid", "High", "Ultra", "Max"] | None = Field(
        default=None, alias="strengthType"
    )


class GenerationRequest(_Request):
    """Body of ``POST /generations``: every field the image document declares (less the
    deprecated ``controlNet``, ``controlNetType`` and ``weighting``), under Leonardo's exact
    wire names. Bounds are the ones Leonardo documents, so an impossible request fails before
    it costs a round trip (or credits); the rules between fields are the domain's."""

    prompt: str = Field(min_length=1)
    negative_prompt: str | None = None
    model_id: str | None = Field(default=None, alias="modelId")
    width: int | None = Field(default=None, ge=32, le=1536, multiple_of=8)
    height: int | None = Field(default=None, ge=32, le=1536, multiple_of=8)
    num_images: int | None = Field(default=None, ge=1, le=8)
    seed: int | None = Field(default=None, ge=0, le=9_999_999_998)
    init_image_id: str | None = None
    init_generation_image_id: str | None = None
    init_strength: float | None = Field(default=None, ge=0.1, le=0.9)
    alchemy: bool | None = None
    photo_real: bool | None = Field(default=None, alias="photoReal")
    photo_real_version: str | None = Field(default=None, alias="photoRealVersion")
    photo_real_strength: float | None = Field(default=None, alias="photoRealStrength")
    preset_style: str | None = Field(default=None, alias="presetStyle")
    guidance_scale: float | None = Field(default=None, ge=1, le=20)
    num_inference_steps: int | None = Field(default=None, ge=10, le=60)
    public: bool | None = None
    scheduler: str | None = None
    sd_version: str | None = None
    tiling: bool | None = None
    contrast: float | None = Field(default=None, ge=1, le=4.5)
    ultra: bool | None = None
    enhance_prompt: bool | None = Field(default=None, alias="enhancePrompt")
    enhance_prompt_instruction: str | None = Field(default=None, alias="enhancePromptInstruction")
    contrast_ratio: float | None = Field(default=None, ge=0, le=1, alias="contrastRatio")
    transparency: Literal["disabled", "foreground_only"] | None = None
    expanded_domain: bool | None = Field(default=None, alias="expandedDomain")
    fantasy_avatar: bool | None = Field(default=None, alias="fantasyAvatar")
    high_contrast: bool | None = Field(default=None, alias="highContrast")
    high_resolution: bool | None = Field(default=None, alias="highResolution")
    prompt_magic: bool | None = Field(default=None, alias="promptMagic")
    prompt_magic_strength: float | None = Field(default=None, alias="promptMagicStrength")
    prompt_magic_version: str | None = Field(default=None, alias="promptMagicVersion")
    elements: list[ElementInput] | None = None
    user_elements: list[UserElementInput] | None = Field(default=None, alias="userElements")
    controlnets: list[ControlnetInput] | None = None
    image_prompts: list[str] | None = Field(default=None, alias="imagePrompts")
    image_prompt_weight: float | None = Field(default=None, alias="imagePromptWeight")
    unzoom: bool | None = None
    unzoom_amount: float | None = Field(default=None, alias="unzoomAmount")
    upscale_ratio: float | None = Field(default=None, alias="upscaleRatio")
    # Canvas editor requests: an init image and its mask from `POST /canvas-init-image`.
    canvas_request: bool | None = Field(default=None, alias="canvasRequest")
    canvas_request_type: Literal["INPAINT", "OUTPAINT", "SKETCH2IMG", "IMG2IMG"] | None = Field(
        default=None, alias="canvasRequestType"
    )
    canvas_init_id: str | None = Field(default=None, alias="canvasInitId")
    canvas_mask_id: str | None = Field(default=None, alias="canvasMaskId")

    @model_validator(mode="after")
    def _large_images_limit_count(self) -> "GenerationRequest":
        # Documented: "If either width or height is over 768, must be between 1 and 4."
        large = (self.width or 0) > 768 or (self.height or 0) > 768
        if large and self.num_images is not None and self.num_images > 4:
            raise ValueError("num_images must be at most 4 when width or height is over 768")
        return self


class InitImageUploadRequest(_Request):
    """Body of ``POST /init-image``: documented as "has to be png, jpg, jpeg, or webp"."""

    extension: InitImageExtension


CostUnit = Literal["CREDITS", "DOLLARS"]
_COST_UNITS: dict[str, CostUnit] = {"CREDITS": "CREDITS", "DOLLARS": "DOLLARS"}  # the units we read


class Cost(BaseModel):
    """What one call cost: an exact amount in Leonardo's unit (credits, or dollars on PAYG)."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal
    unit: CostUnit


class WireCost(_Response):
    """Leonardo's ``cost`` object exactly as sent (``amount`` is a decimal string there);
    read leniently, and turned into a :class:`Cost` by :attr:`Priced.cost`."""

    amount: str | float | None = None
    unit: str | None = None


class Priced(_Response):
    """An answer that says what it cost, in either of Leonardo's shapes: ``cost`` (amount and
    unit) and the deprecated ``apiCreditCost`` (credits; null on an account billed in dollars).

    A cost we cannot read is dropped, never an error: the answer of a paid call must not be
    lost (and the call look unanswered) because of its price tag.
    """

    # The documents and the SDK say integer, the published examples are
    # fractional (see shared/leonardo/SOURCE.md): accept both.
    api_credit_cost: float | None = Field(default=None, alias="apiCreditCost")
    wire_cost: WireCost | None = Field(default=None, alias="cost")

    @field_validator("api_credit_cost", "wire_cost", mode="wrap")
    @classmethod
    def _unreadable_cost_is_none(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            return None

    @property
    def cost(self) -> Cost | None:
        """``cost`` where Leonardo gives a readable one, else ``apiCreditCost`` as CREDITS."""
        wire = self.wire_cost
        unit = _COST_UNITS.get(wire.unit or "") if wire is not None else None
        if wire is not None and unit is not None:
            amount = _amount(wire.amount)
            if amount is not None:
                return Cost(amount=amount, unit=unit)
        credits = _amount(self.api_credit_cost)
        return Cost(amount=credits, unit="CREDITS") if credits is not None else None


def _amount(value: object) -> Decimal | None:
    """A finite, non-negative amount from a decimal string or a number; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # apiCreditCost 7 arrives as 7.0: keep it "7"
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


class GenerationJob(Priced):
    """``sdGenerationJob``: the accepted, still asynchronous generation."""

    generation_id: str = Field(alias="generationId", min_length=1)


class GeneratedImage(_Response):
    id: str = Field(min_length=1)
    url: str = Field(min_length=1)
    nsfw: bool
    # A video generation's clip (leonardo/motion.py): the image entry's MP4, beside its still.
    motion_mp4_url: str | None = Field(default=None, alias="motionMP4URL")


class Generation(_Response):
    """``generations_by_pk`` (and each item of a user's generations)."""

    id: str = Field(min_length=1)
    status: GenerationStatus
    # ISO-8601 text exactly as Leonardo sends it (its Hasura timestamps are
    # not always zone-qualified); parsing is left to the domain layer.
    created_at: str = Field(alias="createdAt")
    model_id: str | None = Field(default=None, alias="modelId")
    prompt: str
    negative_prompt: str | None = Field(default=None, alias="negativePrompt")
    image_width: int = Field(alias="imageWidth")
    image_height: int = Field(alias="imageHeight")
    generated_images: list[GeneratedImage] = Field(default_factory=list)
    # Echoes of the request, used to recognise the generation of an unanswered POST.
    seed: int | None = None
    guidance_scale: float | None = Field(default=None, alias="guidanceScale")
    inference_steps: int | None = Field(default=None, alias="inferenceSteps")
    init_strength: float | None = Field(default=None, alias="initStrength")
    photo_real: bool | None = Field(default=None, alias="photoReal")
    preset_style: str | None = Field(default=None, alias="presetStyle")
    public: bool | None = None


class InitImageUpload(_Response):
    """``uploadInitImage``: a presigned S3 POST for one init image.

    Leonardo sends ``fields`` as a JSON *string*; it is parsed here into the
    form fields to post before the file. They hold the signed policy and its
    signature, a short-lived upload credential, so they stay out of repr().
    """

    id: str = Field(min_length=1)
    url: str = Field(min_length=1)
    key: str = Field(min_length=1)
    fields: dict[str, str] = Field(repr=False)

    @field_validator("fields", mode="before")
    @classmethod
    def _parse_fields(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("fields must be a JSON string")  # the message never echoes the value
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("fields is not valid JSON") from None

    @field_validator("fields")
    @classmethod
    def _fields_name_the_key(cls, value: dict[str, str]) -> dict[str, str]:
        # S3 refuses a presigned POST without its `key` field.
        if not value.get("key"):
            raise ValueError("fields has no key")
        return value


class InitImage(_Response):
    """``init_images_by_pk``: an uploaded init image and where Leonardo serves it."""

    id: str = Field(min_length=1)
    url: str = Field(min_length=1)
    created_at: str = Field(alias="createdAt")


class UserDetails(_Response):
    """One item of ``GET /me``'s ``user_details``, with the nested ``user``
    object flattened into ``user_id``/``username``."""

    user_id: str = Field(min_length=1)
    username: str | None = None
    api_paid_tokens: float | None = Field(default=None, alias="apiPaidTokens")
    api_subscription_tokens: float | None = Field(default=None, alias="apiSubscriptionTokens")
    api_concurrency_slots: int | None = Field(default=None, alias="apiConcurrencySlots")
    api_plan_token_renewal_date: str | None = Field(default=None, alias="apiPlanTokenRenewalDate")
    paid_tokens: float | None = Field(default=None, alias="paidTokens")
    subscription_tokens: float | None = Field(default=None, alias="subscriptionTokens")
    token_renewal_date: str | None = Field(default=None, alias="tokenRenewalDate")

    @model_validator(mode="before")
    @classmethod
    def _flatten_user(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("user"), dict):
            user = data["user"]
            data = {**data, "user_id": user.get("id"), "username": user.get("username")}
        return data


class PreviewImage(_Response):
    id: str | None = None
    url: str


class PlatformModel(_Response):
    """One item of ``GET /platformModels``'s ``custom_models``."""

    id: str = Field(min_length=1)
    name: str
    description: str | None = None
    nsfw: bool | None = None
    featured: bool | None = None
    generated_image: PreviewImage | None = None


# Envelopes: the top-level wrappers Leonardo puts around each answer. Nullable
# payloads are typed as such; the client maps a null ``*_by_pk`` to 404.


class CreateGenerationEnvelope(_Response):
    sd_generation_job: GenerationJob = Field(alias="sdGenerationJob")


class GetGenerationEnvelope(_Response):
    generations_by_pk: Generation | None


class DeletedGeneration(_Response):
    id: str = Field(min_length=1)


class DeleteGenerationEnvelope(_Response):
    delete_generations_by_pk: DeletedGeneration | None


class UserGenerationsEnvelope(_Response):
    generations: list[Generation]


class MeEnvelope(_Response):
    user_details: list[UserDetails] = Field(min_length=1)


class PlatformModelsEnvelope(_Response):
    custom_models: list[PlatformModel]


class UploadInitImageEnvelope(_Response):
    conceals_body = True
    # Not nullable here: without details there is nothing to upload to, and
    # asking again is harmless, so a null is a (retried) malformed answer.
    upload_init_image: InitImageUpload = Field(alias="uploadInitImage")


class InitImageEnvelope(_Response):
    init_images_by_pk: InitImage | None


class DeletedInitImage(_Response):
    id: str = Field(min_length=1)


class DeleteInitImageEnvelope(_Response):
    delete_init_images_by_pk: DeletedInitImage | None
