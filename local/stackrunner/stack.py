"""The whole local stack: local AWS, the Leonardo simulator, the gateway, pollers and schedules."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stackrunner.aws import LocalAws, ResourceCreator
from stackrunner.bus import BusTap, events_route, tap_bus
from stackrunner.gateway import ServerThread, make_app
from stackrunner.isolation import ExecutionEnvironments
from stackrunner.issuer import DEFAULT_STATE_DIR, REPO_ROOT, LocalIssuer
from stackrunner.pollers import SqsPoller
from stackrunner.runtime import FunctionRuntime
from stackrunner.schedules import ScheduleTicker
from stackrunner.template import REGION, Template

log = logging.getLogger("stackrunner")

LOCAL_LEONARDO_KEY = "local-leonardo-key"
LOCAL_WEBHOOK_KEY = "local-webhook-key"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _default_stack_name() -> str:
    try:
        doc = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())
        return doc["default"]["global"]["parameters"]["stack_name"] + "-local"
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "local"


@dataclass
class StackConfig:
    api_port: int = 3000  # 0 = pick a free port
    aws_port: int = 4566
    simulator_port: int = 8090
    leonardo_api_key: str = LOCAL_LEONARDO_KEY
    webhook_key: str = LOCAL_WEBHOOK_KEY
    parameters: dict[str, Any] = field(default_factory=dict)  # template parameter overrides
    visibility_scale: float = 1.0  # SQS VisibilityTimeout multiplier, so retries take seconds
    schedule_interval: float | None = None  # seconds between schedule ticks instead of the template's rate
    simulator_config_overrides: dict[str, Any] = field(default_factory=dict)
    use_simulator: bool = True
    leonardo_base_url: str | None = None  # an external Leonardo when use_simulator is False
    template_path: Path = REPO_ROOT / "template.yaml"
    stack_name: str = field(default_factory=_default_stack_name)
    host: str = "127.0.0.1"
    aws_in_process: bool = False  # moto on a thread of this process instead of a child process
    webhook_path: str = "/webhooks/leonardo"  # where the simulator sends callbacks
    secret_values: dict[str, Any] = field(default_factory=dict)  # by secret logical id, over the defaults
    jwt_state_dir: Path = DEFAULT_STATE_DIR
    extra_environment: dict[str, str] = field(
        default_factory=lambda: {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
    )

    @classmethod
    def fast(cls, **overrides: Any) -> StackConfig:
        """A stack on free ports with a test clock: retries in seconds, not minutes.

        SQS visibility timeouts are scaled (SubmitQueue 180 s -> 4 s, EventsQueue 360 s -> 7 s), the
        reconciler ticks every second and polls after 2 s, and lost messages are re-sent after 3 s.
        The submit lease stays above the submitter's 30 s Timeout, as in production, so a slow but
        live submitter is never taken over. `simulator_config_overrides` and `extra_environment`
        given here are merged over these defaults.
        """
        simulator = {"pending_seconds": 0.2} | overrides.pop("simulator_config_overrides", {})
        environment = {
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POLL_FIRST_SECONDS": "2",
            "POLL_MAX_INTERVAL_SECONDS": "4",
            "QUEUED_CHECK_SECONDS": "3",
            "FINALIZE_CHECK_SECONDS": "3",
            "SUBMIT_LEASE_SECONDS": "40",
            # Scaled with the visibility timeouts: shorter than the events queue's way to its DLQ.
            "UNKNOWN_GENERATION_GRACE_SECONDS": "20",
            # The writers' head start before the reconciler publishes a completion event they did not.
            "EVENTS_SAFETY_NET_DELAY_SECONDS": "2",
            # Outbound webhooks retry after 1, 2 and 4 s instead of 5 s ... 24 h.
            "APP_WEBHOOK_RETRY_SCHEDULE": "1,2,4",
        } | overrides.pop("extra_environment", {})
        defaults: dict[str, Any] = {
            "api_port": 0,
            "aws_port": 0,
            "simulator_port": 0,
            "visibility_scale": 0.02,
            "schedule_interval": 1.0,
        }
        from stackrunner.plans import unlimited_plans_json

        # No guardrail holds a suite or a bench back unless it asks (stackrunner/plans.py).
        parameters = {"PlansDocument": unlimited_plans_json()} | overrides.pop("parameters", {})
        return cls(
            **(defaults | overrides), simulator_config_overrides=simulator, extra_environment=environment,
            parameters=parameters,
        )  # fmt: skip

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackConfig:
        env = os.environ if environ is None else environ
        api_key = env.get("LEONARDO_API_KEY")
        base_url = env.get("LEONARDO_BASE_URL")
        cfg = cls(
            api_port=int(env.get("PORT", "3000")),
            aws_port=int(env.get("LOCAL_AWS_PORT", "4566")),
            simulator_port=int(env.get("SIMULATOR_PORT", "8090")),
            leonardo_api_key=api_key or LOCAL_LEONARDO_KEY,
            webhook_key=env.get("LEONARDO_WEBHOOK_KEY") or LOCAL_WEBHOOK_KEY,
            visibility_scale=float(env.get("VISIBILITY_SCALE", "1.0")),
            schedule_interval=float(env["SCHEDULE_INTERVAL"]) if env.get("SCHEDULE_INTERVAL") else None,
            # A real key with no base URL means the real Leonardo; any base URL means that server.
            use_simulator=not api_key and not base_url,
            leonardo_base_url=base_url or None,
        )
        if cfg.use_simulator:
            cfg.simulator_config_overrides = _simulator_settings_from_env(env)
        if env.get("STACKRUNNER_JWT_DIR"):
            cfg.jwt_state_dir = Path(env["STACKRUNNER_JWT_DIR"])
        return cfg


def _simulator_settings_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The simulator's own LEONARDO_SIM_* settings (faults, pending time...), minus what the stack decides."""
    from leonardo_simulator import SimulatorConfig

    decided = {"api_key", "webhook_url", "webhook_key", "host", "port"}
    from_env, default = SimulatorConfig.from_env(env), SimulatorConfig()
    return {
        f.name: getattr(from_env, f.name)
        for f in dataclasses.fields(SimulatorConfig)
        if f.name not in decided and getattr(from_env, f.name) != getattr(default, f.name)
    }


class _ProcessEnvironment:
    """os.environ as a stack of layers, one per running LocalStack, over the original values.

    Normally one stack runs per process; if two overlap (a test starting its own
    stack beside a session one), the newest wins and stopping either restores the rest.
    """

    def __init__(self) -> None:
        self._base: dict[str, str | None] = {}
        self._layers: list[tuple[object, dict[str, str | None]]] = []

    def push(self, owner: object, values: dict[str, str], remove: tuple[str, ...] = ()) -> None:
        if self._layers:
            log.warning(
                "another LocalStack is running in this process: its functions now see this environment"
            )
        # A stray AWS_PROFILE or session token would point boto3 at real credentials.
        layer: dict[str, str | None] = {**values, **dict.fromkeys(remove)}
        for name in layer:
            self._base.setdefault(name, os.environ.get(name))
        self._layers.append((owner, layer))
        self._apply()

    def pop(self, owner: object) -> None:
        self._layers = [(o, layer) for o, layer in self._layers if o is not owner]
        self._apply()

    def _apply(self) -> None:
        for name, original in self._base.items():
            value = original
            for _, layer in self._layers:
                if name in layer:
                    value = layer[name]
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if not self._layers:
            self._base.clear()


_environment = _ProcessEnvironment()


class LocalStack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.simulator: Any = None
        self.template: Template | None = None
        self.runtime: FunctionRuntime | None = None
        self.environments: ExecutionEnvironments | None = None
        self.issuer: LocalIssuer | None = None
        self._exit = contextlib.ExitStack()
        self._pollers: list[SqsPoller] = []
        self._tickers: list[ScheduleTicker] = []
        self.bus_tap: BusTap | None = None
        cfg = self.config
        self.api_port = cfg.api_port or free_port(cfg.host)
        self.api_url = f"http://{cfg.host}:{self.api_port}"
        self.aws = LocalAws(cfg.host, cfg.aws_port or free_port(cfg.host), in_process=cfg.aws_in_process)
        self.aws_endpoint = self.aws.endpoint

    # ----- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        cfg = self.config
        if cfg.use_simulator:
            self.simulator = self._exit.enter_context(self._serve_simulator())
            log.info("Leonardo simulator at %s", self.simulator.base_url)
        self.template = Template(cfg.template_path, self._parameters(), stack_name=cfg.stack_name)
        self.aws.start()
        self._exit.callback(self.aws.stop)
        secrets = {
            "LeonardoApiKeySecret": {"api_key": cfg.leonardo_api_key},
            "WebhookSecret": {"webhook_key": cfg.webhook_key},
            **cfg.secret_values,
        }
        creator = ResourceCreator(self.template, self.aws, cfg.visibility_scale, secrets)
        self._exit.callback(creator.delete_all)
        creator.create_all()
        self._tap_buses()
        functions = self.template.functions()
        self._set_environment(functions)
        self.runtime = FunctionRuntime(functions)
        self._exit.callback(self.runtime.unload)
        http_functions = {route.function for route in self.template.http_routes()}
        self.environments = self._exit.enter_context(
            ExecutionEnvironments(self.runtime, serialized=http_functions)
        )
        self._start_gateway()
        self._start_pollers()
        self._start_schedules()
        log.info("stack %s up: API %s, AWS %s", cfg.stack_name, self.api_url, self.aws_endpoint)

    def stop(self) -> None:
        if self.bus_tap is not None:
            self.bus_tap.stop()
            self.bus_tap.join()
            self.bus_tap = None
        for worker in [*self._tickers, *self._pollers]:
            worker.stop()
        for worker in [*self._tickers, *self._pollers]:
            worker.join()
        self._tickers.clear()
        self._pollers.clear()
        self._exit.close()
        self._restore_environment()

    # ----- pieces ---------------------------------------------------------------------------------

    def _serve_simulator(self) -> Any:
        from leonardo_simulator import SimulatorConfig, serve_in_thread

        cfg = self.config
        sim_cfg = SimulatorConfig(
            api_key=cfg.leonardo_api_key,
            webhook_url=self.api_url + cfg.webhook_path,
            webhook_key=cfg.webhook_key,
            host=cfg.host,
            port=cfg.simulator_port,
            **cfg.simulator_config_overrides,
        )
        return serve_in_thread(sim_cfg)

    def _parameters(self) -> dict[str, Any]:
        cfg = self.config
        declared = Template(cfg.template_path).parameters
        local: dict[str, Any] = {}
        if "JwtIssuer" in declared:
            local["JwtIssuer"] = self.api_url
        if self.simulator is not None:
            local["LeonardoBaseUrl"] = self.simulator.base_url
            local["AllowedOutputOrigins"] = self.simulator.origin
            local["LeonardoUploadHosts"] = urlsplit(self.simulator.origin).hostname or "127.0.0.1"
        elif cfg.leonardo_base_url:
            parts = urlsplit(cfg.leonardo_base_url)
            local["LeonardoBaseUrl"] = cfg.leonardo_base_url
            local["AllowedOutputOrigins"] = f"{parts.scheme}://{parts.netloc}"
        local = {k: v for k, v in local.items() if k in declared}
        return {**local, **cfg.parameters}

    def _set_environment(self, functions: dict[str, Any]) -> None:
        # Functions share this process, so they share one environment: the union of theirs.
        union: dict[str, str] = {}
        for spec in functions.values():
            for name, value in spec.environment.items():
                if name in union and union[name] != value:
                    log.warning(
                        "!!! %s differs between functions (%r vs %r); in-process they share one value: %r",
                        name,
                        union[name],
                        value,
                        union[name],
                    )
                    continue
                union[name] = value
        union.update(
            {
                "AWS_ENDPOINT_URL": self.aws_endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                # The one place this is set: outbound webhooks may go to http://127.0.0.1 (the test
                # receiver). On AWS only https to public addresses (docs/webhooks.md).
                "APP_WEBHOOKS_ALLOW_LOOPBACK": "true",
                **self.config.extra_environment,
            }
        )
        _environment.push(self, union, remove=("AWS_PROFILE", "AWS_SESSION_TOKEN"))

    def _restore_environment(self) -> None:
        _environment.pop(self)

    def _start_gateway(self) -> None:
        assert self.template is not None and self.runtime is not None
        authorizers = self.template.jwt_authorizers()
        audience = next((a.audience for a in authorizers.values() if a.issuer == self.api_url), None)
        if audience is None:
            audience = tuple(self.template.parameters.get("JwtAudience", ["local"]))
        self.issuer = LocalIssuer(self.api_url, audience, self.config.jwt_state_dir)
        routes = self.template.http_routes()
        if self.simulator is not None and not any(r.path == self.config.webhook_path for r in routes):
            log.warning(
                "no HttpApi route at %s: the simulator's callbacks will get 404", self.config.webhook_path
            )
        api_id = (
            self.template.physical.get("HttpApi").ref if "HttpApi" in self.template.physical else "localapi"
        )
        extra = [events_route(self.bus_tap)] if self.bus_tap is not None else []
        app = make_app(self.runtime, routes, authorizers, self.issuer, api_id, extra_routes=extra)
        server = ServerThread(app, self.config.host, self.api_port)
        server.start()
        self._exit.callback(server.stop)

    def _tap_buses(self) -> None:
        """Every event on the template's buses, kept for GET /_local/events (stackrunner/bus.py)."""
        assert self.template is not None
        buses = [
            self.template.physical[logical].ref
            for logical, resource in self.template.resources.items()
            if resource["Type"] == "AWS::Events::EventBus"
        ]
        if not buses:
            return
        events, sqs = self.aws.client("events"), self.aws.client("sqs")
        queues = {bus: tap_bus(events, sqs, bus, f"{bus}-local-tap") for bus in buses}
        self.bus_tap = BusTap(lambda: self.aws.client("sqs"), queues)
        self.bus_tap.start()

    def _start_pollers(self) -> None:
        assert self.template is not None and self.runtime is not None
        for source in self.template.sqs_sources():
            if not source.enabled:
                continue
            queue = self.template.physical[source.queue]
            visibility = self.aws.client("sqs").get_queue_attributes(
                QueueUrl=queue.ref, AttributeNames=["VisibilityTimeout"]
            )["Attributes"]["VisibilityTimeout"]
            poller = SqsPoller(
                source,
                queue.ref,
                queue.attrs["Arn"],
                lambda: self.aws.client("sqs"),
                self.runtime.invoke,
                visibility_timeout=float(visibility),
                function_timeout=float(self.template.functions()[source.function].timeout),
            )
            poller.start()
            self._pollers.append(poller)

    def _start_schedules(self) -> None:
        assert self.template is not None and self.runtime is not None
        for source in self.template.schedules():
            if not source.enabled:
                continue
            ticker = ScheduleTicker(
                source, self.runtime.invoke, self.config.schedule_interval, self.config.stack_name
            )
            ticker.start()
            self._tickers.append(ticker)

    # ----- test helpers ---------------------------------------------------------------------------

    @property
    def physical_ids(self) -> dict[str, str]:
        assert self.template is not None
        return {k: p.ref for k, p in self.template.physical.items()}

    def boto3_client(self, service: str) -> Any:
        return self.aws.client(service)

    def token(self, user: str, **claims: Any) -> str:
        assert self.issuer is not None
        return self.issuer.token(user, **claims)

    def bus_events(self, limit: int | None = None, detail_type: str | None = None) -> list[dict]:
        """The last events the template's buses carried, oldest first (GET /_local/events)."""
        assert self.bus_tap is not None, "the template declares no EventBridge bus"
        return self.bus_tap.events(limit, detail_type)

    def fail_invocations(self, function_logical_id: str, count: int = 1) -> None:
        assert self.runtime is not None
        self.runtime.fail_invocations(function_logical_id, count)

    def invoke(self, function_logical_id: str, event: Any) -> Any:
        assert self.runtime is not None
        return self.runtime.invoke(function_logical_id, event)
