"""Builds settings, clients and use cases once per cold start (lazily: nothing connects at import).

Each factory imports what it builds, so a function loads at its cold start only the adapters and
use cases it uses: the webhook never imports Pillow or the Leonardo client, the submitter never
imports the upload inspector (docs/performance.md, cold starts).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from gencore.clients import aws as aws  # re-exported: the functions and tests reach it as wiring.aws
from gencore.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from gencore.adapters.account import DynamoAccountState, DynamoBalanceState, DynamoOrphanStore
    from gencore.adapters.batch_store import DynamoBatchStore
    from gencore.adapters.dynamo import DynamoJobStore
    from gencore.adapters.eventbus import EventBridgeBus
    from gencore.adapters.ledger import DynamoLedger
    from gencore.adapters.leonardo import LeonardoGateway
    from gencore.adapters.outbox import DynamoOutbox
    from gencore.adapters.outputs import S3OutputStore
    from gencore.adapters.queues import SqsBatchQueue, SqsEventQueue, SqsSubmitQueue
    from gencore.adapters.uploads import DynamoUploadStore, S3UploadBucket
    from gencore.domain.account import AccountGuard
    from gencore.domain.admission import Admission
    from gencore.domain.balance import BalanceWatch
    from gencore.domain.batch_service import Batches
    from gencore.domain.content_policy import ReloadableContentPolicy
    from gencore.domain.estimates import Estimator, RefreshReport
    from gencore.domain.events import CompletionEvent, EventRelay
    from gencore.domain.fanout import BatchWorker
    from gencore.domain.generations import Generations
    from gencore.domain.orphans import OrphanSweep
    from gencore.domain.plans import PlansDocument
    from gencore.domain.platform_models import PlatformModels
    from gencore.domain.processing import Processor
    from gencore.domain.prompts import Prompts
    from gencore.domain.realtime import Realtime
    from gencore.domain.reconcile import Reconciler
    from gencore.domain.removal import Removal
    from gencore.domain.submit import Submitter
    from gencore.domain.uploads import Uploads
    from gencore.domain.waiting import Waker
    from gencore.leonardo import LeonardoClient


def clock() -> datetime:
    return datetime.now(UTC)


@cache
def settings() -> Settings:
    return Settings.from_env(os.environ)


@cache
def store() -> DynamoJobStore:
    from gencore.adapters.dynamo import DynamoJobStore
    from gencore.domain.ledger import Pricing
    from gencore.spend_log import report_charge

    s = settings()
    pricing = Pricing(unit=s.billing_unit, dollars_per_credit=s.dollars_per_credit)
    # Every committed change of a job's charge: its cost log line and metrics, whichever path wrote it;
    # every committed end of a job: its metrics, and its completion event published at once (docs/events.md).
    return DynamoJobStore(
        aws("dynamodb"), s.jobs_table, pricing=pricing, on_charge=report_charge,
        on_event=job_ended, event_delay_seconds=s.events_safety_net_delay_seconds,
        on_item_ended=batch_item_ended,
    )  # fmt: skip


# --- batches (domain/batch_service.py, domain/fanout.py) --------------------------------------------


@cache
def batch_store() -> DynamoBatchStore:
    from gencore.adapters.batch_store import DynamoBatchStore

    return DynamoBatchStore(aws("dynamodb"), settings().jobs_table, store())


def batch_item_ended(batch_id: str) -> None:
    """The job store's observer of each batch item's end: the last one ends its batch at once."""
    batch_store().finish(batch_id, now=clock())


@cache
def batch_queue() -> SqsBatchQueue:
    from gencore.adapters.queues import SqsBatchQueue

    return SqsBatchQueue(aws("sqs"), settings().batch_queue_url)


@cache
def batches() -> Batches:
    from gencore.adapters.batch_files import S3BatchFiles
    from gencore.domain.batch_service import Batches
    from gencore.domain.sources import Sources

    return Batches(
        batch_store(), S3BatchFiles(aws("s3"), settings().output_bucket), batch_queue(),
        Sources(store(), uploads=uploads()), uploads(), upload_bucket(), clock,
        admission=admission(), model_names=platform_models().name_of,
    )  # fmt: skip


@cache
def batch_worker() -> BatchWorker:
    from gencore.adapters.batch_files import S3BatchFiles
    from gencore.domain.fanout import BatchWorker

    return BatchWorker(
        batch_store(), S3BatchFiles(aws("s3"), settings().output_bucket), batch_queue(), store(),
        waker(), clock, settings().policy(),
    )  # fmt: skip


# --- completion events (docs/events.md): the outbox, the bus, the relay between them -----------------


@cache
def outbox() -> DynamoOutbox:
    from gencore.adapters.outbox import DynamoOutbox

    return DynamoOutbox(aws("dynamodb"), settings().jobs_table)


@cache
def event_bus() -> EventBridgeBus:
    from gencore.adapters.eventbus import EventBridgeBus

    return EventBridgeBus(aws("events"), settings().event_bus_name)


@cache
def event_relay() -> EventRelay:
    from gencore.domain.events import EventRelay

    return EventRelay(outbox(), event_bus(), clock)


def publish_pending() -> dict[str, int]:
    """The safety net (the reconciler, every minute): events the fast path did not publish."""
    if not settings().event_bus_name:
        return {}
    return event_relay().drain()


def job_ended(event: CompletionEvent) -> None:
    """The store's observer of each committed end of a job: its metrics, then its event, at once."""
    from gencore.job_metrics import report_job_end

    report_job_end(event)
    publish_now(event)


def publish_now(event: CompletionEvent) -> None:
    """The fast path: right after the write that ended a job (the reconciler is the safety net)."""
    if settings().event_bus_name:  # no bus configured: the event waits in the outbox
        event_relay().publish([event])


@cache
def submit_queue() -> SqsSubmitQueue:
    from gencore.adapters.queues import SqsSubmitQueue

    return SqsSubmitQueue(aws("sqs"), settings().submit_queue_url)


@cache
def event_queue() -> SqsEventQueue:
    from gencore.adapters.queues import SqsEventQueue

    return SqsEventQueue(aws("sqs"), settings().events_queue_url)


def webhook_key() -> str:
    from gencore.adapters.secrets import secret_field

    s = settings()
    return secret_field(s.webhook_secret, "webhook_key", max_age=s.secret_cache_seconds)


def _leonardo_key(*, fresh: bool = False) -> str:
    """The API key through the secret cache (max age SECRET_CACHE_SECONDS); `fresh` reads past it."""
    from gencore.adapters.secrets import secret_field

    s = settings()
    return secret_field(s.leonardo_api_key_secret, "api_key", max_age=s.secret_cache_seconds, force=fresh)


def _leonardo_client(*, fresh_key: bool = False) -> LeonardoClient:
    from gencore.leonardo import LeonardoClient

    s = settings()
    api_key = _leonardo_key(fresh=fresh_key)
    hosts = tuple(h.strip() for h in s.leonardo_upload_hosts.split(",") if h.strip())
    return LeonardoClient(
        base_url=s.leonardo_base_url,
        api_key=api_key,
        upload_hosts=hosts,
        connect_timeout=s.leonardo_connect_timeout_seconds,
        write_timeout=s.leonardo_write_timeout_seconds,
        read_timeout=s.leonardo_read_timeout_seconds,
        pool_timeout=s.leonardo_pool_timeout_seconds,
    )


@cache
def leonardo() -> LeonardoGateway:
    from gencore.adapters.leonardo import LeonardoGateway

    # The key is looked up on each call through the secret cache: a rotated key is in use once the
    # cache's max age has passed, or at once after Leonardo refuses the old one (401/403).
    return LeonardoGateway(_leonardo_client, current_key=_leonardo_key)


@cache
def outputs() -> S3OutputStore:
    from gencore.adapters.outputs import OutputFetcher, S3OutputStore, parse_origins

    s = settings()
    fetcher = OutputFetcher(
        parse_origins(s.allowed_output_origins),
        image_max_bytes=s.output_image_max_bytes,
        video_max_bytes=s.output_video_max_bytes,
    )
    return S3OutputStore(aws("s3"), s.output_bucket, fetcher, url_ttl_seconds=s.output_url_ttl_seconds)


@cache
def upload_store() -> DynamoUploadStore:
    from gencore.adapters.uploads import DynamoUploadStore

    return DynamoUploadStore(aws("dynamodb"), settings().jobs_table)


@cache
def upload_bucket() -> S3UploadBucket:
    from gencore.adapters.uploads import S3UploadBucket

    return S3UploadBucket(aws("s3"), settings().output_bucket)


@cache
def uploads() -> Uploads:
    from gencore.adapters.images import PillowInspector
    from gencore.domain.uploads import Uploads

    return Uploads(
        upload_store(), upload_bucket(), PillowInspector(), leonardo(), clock, settings().upload_policy()
    )


@cache
def generations() -> Generations:
    from gencore.domain.generations import Generations
    from gencore.domain.sources import Sources

    sources = Sources(store(), uploads=uploads())
    return Generations(
        store(), submit_queue(), sources, clock, settings().policy(), model_names=platform_models().name_of,
        admission=admission(),
    )  # fmt: skip


@cache
def removal() -> Removal:
    from gencore.domain.removal import Removal

    return Removal(store(), outputs(), leonardo(), clock)


@cache
def submitter() -> Submitter:
    from gencore.domain.sources import Sources
    from gencore.domain.submit import Submitter
    from gencore.domain.uploads import InitImages

    init_images = InitImages(upload_store(), upload_bucket(), leonardo(), settings().upload_policy())
    sources = Sources(store(), init_images=init_images)
    return Submitter(
        store(), leonardo(), submit_queue(), sources, clock, settings().policy(), guard=account_guard()
    )


@cache
def processor() -> Processor:
    from gencore.domain.processing import Processor

    return Processor(
        store(), outputs(), leonardo(), waker(), clock, settings().policy(), nsfw_policy=plans().nsfw_policy
    )


@cache
def waker() -> Waker:
    """Hands freed Leonardo slots to the waiting lines (held back while creates are paused)."""
    from gencore.domain.waiting import Waker

    return Waker(store(), submit_queue(), clock, settings().policy(), account_guard())


@cache
def reconciler() -> Reconciler:
    """The safety net, with the account guard (it probes a blocked account and fails held jobs)."""
    from gencore.domain.reconcile import Reconciler

    s = settings()
    return Reconciler(
        store(), leonardo(), event_queue(), submit_queue(), clock, s.policy(),
        guard=account_guard(), reserve_seconds=s.reconcile_reserve_seconds,
    )  # fmt: skip


# --- the Leonardo account as a whole: the breaker and the orphan sweep -----------------------------


@cache
def account_state() -> DynamoAccountState:
    from gencore.adapters.account import DynamoAccountState

    return DynamoAccountState(aws("dynamodb"), settings().jobs_table)


@cache
def account_guard() -> AccountGuard:
    """The account breaker: submitters ask blocked() and trip(); the reconciler probes and clears."""
    from gencore.domain.account import AccountGuard

    return AccountGuard(account_state(), clock, settings().account_policy())


@cache
def balance_state() -> DynamoBalanceState:
    from gencore.adapters.account import DynamoBalanceState

    return DynamoBalanceState(aws("dynamodb"), settings().jobs_table)


@cache
def balance_watch() -> BalanceWatch:
    """The account's balance, read from GET /me by the reconciler at most every interval."""
    from gencore.domain.balance import BalanceWatch

    s = settings()
    return BalanceWatch(
        balance_state(), leonardo(), clock, every_seconds=s.account_balance_every_seconds, unit=s.billing_unit
    )


@cache
def orphan_store() -> DynamoOrphanStore:
    from gencore.adapters.account import DynamoOrphanStore

    return DynamoOrphanStore(aws("dynamodb"), settings().jobs_table)


@cache
def orphan_sweep() -> OrphanSweep:
    from gencore.domain.orphans import OrphanSweep

    s = settings()
    return OrphanSweep(
        store(), orphan_store(), leonardo(), clock, s.orphan_policy(),
        reserve_seconds=s.reconcile_reserve_seconds,
    )  # fmt: skip


@cache
def platform_models() -> PlatformModels:
    """The platform-model list: the API reads it, the reconciler refreshes it."""
    from gencore.adapters.model_cache import DynamoModelCache
    from gencore.domain.platform_models import PlatformModels

    s = settings()
    return PlatformModels(
        DynamoModelCache(aws("dynamodb"), s.jobs_table), clock, refresh_seconds=s.models_refresh_seconds
    )


@cache
def prompts() -> Prompts:
    from gencore.adapters.usage import DynamoBucketStore, DynamoUsageStore
    from gencore.domain.prompts import Prompts
    from gencore.domain.rate_limits import BucketLimit, TokenBuckets

    s = settings()
    buckets = TokenBuckets(DynamoBucketStore(aws("dynamodb"), s.jobs_table), clock)
    limit = BucketLimit(capacity=s.prompt_rate_burst, per_second=s.prompt_rate_per_minute / 60)
    return Prompts(leonardo(), buckets, DynamoUsageStore(aws("dynamodb"), s.jobs_table), clock, limit)


@cache
def realtime() -> Realtime:
    from gencore.adapters.ledger import DynamoCallLedger
    from gencore.adapters.usage import DynamoBucketStore
    from gencore.domain.rate_limits import BucketLimit, TokenBuckets
    from gencore.domain.realtime import Realtime

    s = settings()
    buckets = TokenBuckets(DynamoBucketStore(aws("dynamodb"), s.jobs_table), clock)
    limit = BucketLimit(capacity=s.realtime_rate_burst, per_second=s.realtime_rate_per_second)
    return Realtime(
        leonardo(), buckets, DynamoCallLedger(aws("dynamodb"), s.jobs_table), uploads(), clock, limit,
        unit=s.billing_unit, content=content_policy(),
    )  # fmt: skip


# --- guardrails: plans, content policy, estimates, the ledger (docs/plans.md) ------------------------


@cache
def plans() -> PlansDocument:
    """The plans document, validated at cold start (a bad one stops the function from serving)."""
    from gencore.guardrails import build_plans

    s = settings()
    return build_plans(s.plans_document, s.billing_unit)


@cache
def content_policy() -> ReloadableContentPolicy:
    from gencore.guardrails import build_content_policy, ssm_text

    s = settings()
    source = ssm_text(s.content_policy_parameter, max_age=s.content_policy_cache_seconds)
    return build_content_policy(source, plans())


@cache
def estimator() -> Estimator:
    from gencore.guardrails import build_estimator

    s = settings()
    return build_estimator(aws("dynamodb"), s.jobs_table, clock, s.billing_unit)


@cache
def admission() -> Admission:
    """What a plan decides at accept: rate, caps, content, the reservation, the waiting cap."""
    from gencore.adapters.usage import DynamoBucketStore
    from gencore.domain.admission import Admission
    from gencore.domain.ledger import Pricing
    from gencore.domain.rate_limits import TokenBuckets

    s = settings()
    buckets = TokenBuckets(DynamoBucketStore(aws("dynamodb"), s.jobs_table), clock)
    pricing = Pricing(unit=s.billing_unit, dollars_per_credit=s.dollars_per_credit)
    return Admission(
        plans(), estimator().estimate, unit=s.billing_unit, pricing=pricing, content=content_policy(),
        buckets=buckets,
    )  # fmt: skip


@cache
def ledger() -> DynamoLedger:
    from gencore.adapters.ledger import DynamoLedger

    return DynamoLedger(aws("dynamodb"), settings().jobs_table)


@cache
def price_refresh() -> Callable[[], RefreshReport]:
    """The reconciler's step that asks Leonardo's pricing calculator for the prices estimates missed."""
    from gencore.guardrails import build_price_refresh

    s = settings()
    return build_price_refresh(
        aws("dynamodb"), s.jobs_table, leonardo(), clock, s.billing_unit, limit=s.price_refresh_limit
    )


def reset() -> None:
    """Forget every cached object (tests switch environments between cases)."""
    for factory in (settings, aws, store, submit_queue, event_queue, leonardo, outputs, upload_store,
                    upload_bucket, uploads, generations, removal, submitter, processor, reconciler,
                    account_state, account_guard, balance_state, balance_watch, orphan_store, orphan_sweep,
                    platform_models, prompts, plans, content_policy, estimator, admission, ledger,
                    price_refresh, outbox, event_bus, event_relay, batch_store, batch_queue, batches,
                    batch_worker, realtime, waker):  # fmt: skip
        factory.cache_clear()
    from gencore.webhook_intake import intake  # the webhook's own factory (built without Settings)

    intake.cache_clear()


def settle_lost_calls() -> dict[str, int]:
    """The reconciler's step that settles, at their estimates, the realtime calls whose invocation died
    before settling them (domain/call_sweep.py). Built per run: a few cheap objects."""
    from gencore.adapters.ledger import DynamoCallLedger
    from gencore.domain.call_sweep import CallSweep

    return CallSweep(DynamoCallLedger(aws("dynamodb"), settings().jobs_table), clock).run()
