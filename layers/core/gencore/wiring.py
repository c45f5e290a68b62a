"""Builds settings, clients and use cases once per cold start (lazily: nothing connects at import)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache

import boto3
from botocore.config import Config

from gencore.adapters.dynamo import DynamoJobStore
from gencore.adapters.images import PillowInspector
from gencore.adapters.leonardo import LeonardoGateway
from gencore.adapters.outputs import OutputFetcher, S3OutputStore, parse_origins
from gencore.adapters.queues import SqsEventQueue, SqsSubmitQueue
from gencore.adapters.secrets import secret_field
from gencore.adapters.uploads import DynamoUploadStore, S3UploadBucket
from gencore.domain.generations import Generations
from gencore.domain.processing import Processor
from gencore.domain.reconcile import Reconciler
from gencore.domain.submit import Submitter
from gencore.domain.uploads import InitImages, Uploads
from gencore.domain.waiting import Waker
from gencore.leonardo import LeonardoClient
from gencore.settings import Settings

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


def clock() -> datetime:
    return datetime.now(UTC)


@cache
def settings() -> Settings:
    return Settings.from_env(os.environ)


@cache
def aws(service: str):
    # Endpoints come from the standard AWS_ENDPOINT_URL* variables (moto locally, AWS in production).
    return boto3.client(service, config=_BOTO_CONFIG)


@cache
def store() -> DynamoJobStore:
    return DynamoJobStore(aws("dynamodb"), settings().jobs_table)


@cache
def submit_queue() -> SqsSubmitQueue:
    return SqsSubmitQueue(aws("sqs"), settings().submit_queue_url)


@cache
def event_queue() -> SqsEventQueue:
    return SqsEventQueue(aws("sqs"), settings().events_queue_url)


def webhook_key() -> str:
    s = settings()
    return secret_field(s.webhook_secret, "webhook_key", max_age=s.secret_cache_seconds)


def _leonardo_client() -> LeonardoClient:
    s = settings()
    api_key = secret_field(s.leonardo_api_key_secret, "api_key", max_age=s.secret_cache_seconds)
    hosts = tuple(h.strip() for h in s.leonardo_upload_hosts.split(",") if h.strip())
    return LeonardoClient(base_url=s.leonardo_base_url, api_key=api_key, upload_hosts=hosts)


@cache
def leonardo() -> LeonardoGateway:
    return LeonardoGateway(_leonardo_client)


@cache
def outputs() -> S3OutputStore:
    s = settings()
    fetcher = OutputFetcher(parse_origins(s.allowed_output_origins), max_bytes=s.output_max_bytes)
    return S3OutputStore(aws("s3"), s.output_bucket, fetcher, url_ttl_seconds=s.output_url_ttl_seconds)


@cache
def upload_store() -> DynamoUploadStore:
    return DynamoUploadStore(aws("dynamodb"), settings().jobs_table)


@cache
def upload_bucket() -> S3UploadBucket:
    return S3UploadBucket(aws("s3"), settings().output_bucket)


@cache
def uploads() -> Uploads:
    return Uploads(
        upload_store(), upload_bucket(), PillowInspector(), leonardo(), clock, settings().upload_policy()
    )


@cache
def generations() -> Generations:
    return Generations(store(), submit_queue(), uploads(), clock, settings().policy())


@cache
def submitter() -> Submitter:
    init_images = InitImages(upload_store(), upload_bucket(), leonardo(), settings().upload_policy())
    return Submitter(store(), leonardo(), submit_queue(), init_images, clock, settings().policy())


@cache
def processor() -> Processor:
    waker = Waker(store(), submit_queue(), clock, settings().policy())
    return Processor(store(), outputs(), leonardo(), waker, clock, settings().policy())


@cache
def reconciler() -> Reconciler:
    return Reconciler(store(), leonardo(), event_queue(), submit_queue(), clock, settings().policy())


def reset() -> None:
    """Forget every cached object (tests switch environments between cases)."""
    for factory in (settings, aws, store, submit_queue, event_queue, leonardo, outputs, upload_store,
                    upload_bucket, uploads, generations, submitter, processor, reconciler):  # fmt: skip
        factory.cache_clear()
