"""Read a SAM template the way CloudFormation would, enough to run it locally.

The runner never keeps a second list of resources: functions, routes, queues,
schedules and the JWT authorizer all come from here.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"

# Short tags whose value is not simply wrapped as {"Fn::<Tag>": value}.
_SPECIAL_TAGS = {"Ref": "Ref", "Condition": "Condition"}


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns !Ref, !GetAtt, !Sub... into their long JSON forms."""


def _construct_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in _SPECIAL_TAGS:
        return {_SPECIAL_TAGS[suffix]: value}
    if suffix == "GetAtt" and isinstance(value, str):
        # !GetAtt Queue.Arn is shorthand for ["Queue", "Arn"]; the attribute may itself hold dots.
        logical, _, attr = value.partition(".")
        value = [logical, attr]
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: str | Path) -> dict[str, Any]:
    return yaml.load(Path(path).read_text(), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


class TemplateError(ValueError):
    pass


@dataclass
class Physical:
    """What CloudFormation would hand back for a resource: its Ref value and attributes."""

    ref: str
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpRoute:
    function: str
    event: str
    method: str  # upper case, or ANY
    path: str  # as written in the template, e.g. /v1/generations/{id}
    authorizer: str | None  # None = open route (Auth.Authorizer: NONE)
    scopes: tuple[str, ...] = ()

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class JwtAuthorizer:
    name: str
    issuer: str
    audience: tuple[str, ...]
    identity_source: str = "$request.header.Authorization"


@dataclass(frozen=True)
class SqsSource:
    function: str
    event: str
    queue: str  # logical id of the AWS::SQS::Queue
    batch_size: int = 10
    batching_window: float = 0.0
    report_batch_item_failures: bool = False
    max_concurrency: int = 2
    enabled: bool = True


@dataclass(frozen=True)
class ScheduleSource:
    function: str
    event: str
    kind: str  # Schedule (EventBridge rule) or ScheduleV2 (EventBridge Scheduler)
    expression: str
    interval: float  # seconds between ticks
    input: Any = None
    enabled: bool = True


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    code_uri: Path
    handler: str
    timeout: int
    memory_size: int
    environment: dict[str, str]
    layers: list[Path] = field(default_factory=list)

    @property
    def module_path(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_uri / (module.replace(".", "/") + ".py")

    @property
    def function_name(self) -> str:
        return self.handler.rpartition(".")[2]


def rate_to_seconds(expression: str) -> float:
    """rate(1 minute) -> 60; cron(...) -> an approximate period; at(...) -> a day (runs rarely)."""
    expr = expression.strip()
    if m := re.fullmatch(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)", expr):
        unit = {"minute": 60, "hour": 3600, "day": 86400}[m.group(2).rstrip("s")]
        return int(m.group(1)) * unit
    if m := re.fullmatch(r"cron\((.+)\)", expr):
        minutes, hours = m.group(1).split()[:2]
        # A local ticker only needs the cadence, not the wall-clock alignment.
        if minutes == "*":
            return 60
        if step := re.fullmatch(r"[\d*]+/(\d+)", minutes):
            return int(step.group(1)) * 60
        if hours == "*":
            return 3600
        if step := re.fullmatch(r"[\d*]+/(\d+)", hours):
            return int(step.group(1)) * 3600
        return 86400
    if expr.startswith("at("):
        return 86400
    raise TemplateError(f"unsupported schedule expression: {expression!r}")


def _merge_globals(global_props: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    """SAM's Globals rules: maps merge (local wins), lists concatenate, scalars are replaced."""
    merged = copy.deepcopy(global_props)
    for key, value in local.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and not _is_intrinsic(value):
            merged[key] = _merge_globals(merged[key], value)
        elif isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = merged[key] + value
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


_NO_VALUE = object()


class Template:
    """A parsed template with parameters and conditions resolved.

    ``physical`` maps logical ids to what local AWS created; until a resource is
    there, a Ref to it resolves to its logical id (as `sam local` does).
    """

    def __init__(
        self,
        path: str | Path,
        parameters: dict[str, Any] | None = None,
        stack_name: str = "local",
    ) -> None:
        self.path = Path(path).resolve()
        self.root = self.path.parent
        self.doc = load_yaml(self.path)
        self.stack_name = stack_name
        self.resources: dict[str, dict[str, Any]] = self.doc.get("Resources", {})
        self.physical: dict[str, Physical] = {}
        self.parameters = self._parameter_values(parameters or {})
        self.conditions: dict[str, bool] = {}
        for name in self.doc.get("Conditions", {}):
            self._condition(name)

    # ----- parameters and conditions -------------------------------------------------------------

    def _parameter_values(self, overrides: dict[str, Any]) -> dict[str, Any]:
        declared = self.doc.get("Parameters", {})
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"unknown template parameters: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            raw = overrides.get(name, spec.get("Default"))
            if raw is None:
                raise TemplateError(f"parameter {name} has no default and no local value")
            allowed = spec.get("AllowedValues")
            if allowed and str(raw) not in [str(a) for a in allowed]:
                raise TemplateError(f"parameter {name}={raw!r} not in {allowed}")
            if spec.get("Type", "String").startswith(("CommaDelimitedList", "List<")):
                values[name] = [s.strip() for s in raw.split(",")] if isinstance(raw, str) else list(raw)
            else:
                # CloudFormation hands every scalar parameter to Ref as a string, numbers included.
                values[name] = str(raw)
        return values

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            expr = self.doc.get("Conditions", {}).get(name)
            if expr is None:
                raise TemplateError(f"unknown condition {name}")
            self.conditions[name] = bool(self.resolve(expr))
        return self.conditions[name]

    def pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self.stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": _NO_VALUE,
        }[name]

    # ----- intrinsic functions ------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """Evaluate intrinsic functions recursively; AWS::NoValue removes keys and list items."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self._condition(arg)
            if key.startswith("Fn::"):
                return self._fn(key[4:], arg)
        out = {}
        for k, v in value.items():
            resolved = self.resolve(v)
            if resolved is not _NO_VALUE:
                out[k] = resolved
        return out

    def _ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name].ref
        if name in self.resources:
            return name
        raise TemplateError(f"Ref to unknown name {name}")

    def get_att(self, logical: str, attr: str) -> str:
        if logical not in self.resources:
            raise TemplateError(f"GetAtt on unknown resource {logical}")
        phys = self.physical.get(logical)
        if phys is None:
            return f"{logical}.{attr}"
        if attr not in phys.attrs:
            raise TemplateError(f"{logical} has no attribute {attr} locally (known: {sorted(phys.attrs)})")
        return phys.attrs[attr]

    def _fn(self, name: str, arg: Any) -> Any:
        if name == "GetAtt":
            logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical, self.resolve(attr))
        if name == "Sub":
            return self._sub(arg)
        if name == "Join":
            sep, items = arg
            return self.resolve(sep).join(str(i) for i in self.resolve(items))
        if name == "If":
            cond, yes, no = arg
            return self.resolve(yes if self._condition(cond) else no)
        if name == "Equals":
            a, b = (self.resolve(x) for x in arg)
            return str(a) == str(b)
        if name == "Not":
            return not self.resolve(arg[0])
        if name == "And":
            return all(self.resolve(x) for x in arg)
        if name == "Or":
            return any(self.resolve(x) for x in arg)
        if name == "Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if name == "Split":
            sep, text = arg
            return self.resolve(text).split(self.resolve(sep))
        if name == "FindInMap":
            m, k1, k2 = (self.resolve(x) for x in arg)
            return self.doc["Mappings"][m][k1][k2]
        if name == "GetAZs":
            return [f"{REGION}{z}" for z in "abc"]
        if name == "Base64":
            import base64

            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        if name == "ToJsonString":
            return json.dumps(self.resolve(arg))
        raise TemplateError(f"unsupported intrinsic Fn::{name}")

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        variables = {k: self.resolve(v) for k, v in variables.items()}

        def replace(m: re.Match[str]) -> str:
            expr = m.group(1)
            if expr.startswith("!"):  # ${!Literal} is an escaped ${Literal}
                return "${" + expr[1:] + "}"
            if expr in variables:
                return str(variables[expr])
            if "." in expr and not expr.startswith("AWS::"):
                logical, attr = expr.split(".", 1)
                return self.get_att(logical, attr)
            value = self._ref(expr)
            return ",".join(value) if isinstance(value, list) else str(value)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    # ----- resources ----------------------------------------------------------------------------

    def included(self, logical: str) -> bool:
        cond = self.resources[logical].get("Condition")
        return cond is None or self._condition(cond)

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r.get("Type") == kind and self.included(k)}

    def dependencies(self, logical: str) -> set[str]:
        """Resources named by Ref, GetAtt or Sub inside a resource (CloudFormation's implicit order)."""
        found: set[str] = set()

        def walk(v: Any) -> None:
            if isinstance(v, dict):
                for k, x in v.items():
                    if k == "Ref" and isinstance(x, str):
                        found.add(x)
                    elif k == "Fn::GetAtt":
                        found.add(x[0] if isinstance(x, list) else x.split(".")[0])
                    elif k == "Fn::Sub":
                        text = x if isinstance(x, str) else x[0]
                        found.update(e.split(".")[0] for e in re.findall(r"\$\{([^!}][^}]*)\}", text))
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)

        resource = self.resources[logical]
        walk(resource.get("Properties", {}))
        depends = resource.get("DependsOn", [])
        found.update([depends] if isinstance(depends, str) else depends)
        return {d for d in found if d in self.resources and d != logical}

    def creation_order(self) -> list[str]:
        """Logical ids in dependency order (a DLQ before the queue that redrives into it)."""
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(name: str) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                raise TemplateError(f"circular dependency through {name}")
            state[name] = 1
            for dep in sorted(self.dependencies(name)):
                visit(dep)
            state[name] = 2
            order.append(name)

        for name in self.resources:
            if self.included(name):
                visit(name)
        return order

    def function_properties(self, logical: str) -> dict[str, Any]:
        """Properties of a serverless function with Globals.Function merged in."""
        global_props = self.doc.get("Globals", {}).get("Function", {})
        return _merge_globals(global_props, self.resources[logical].get("Properties", {}))

    def functions(self) -> dict[str, FunctionSpec]:
        specs = {}
        for logical in self.of_type("AWS::Serverless::Function"):
            props = self.function_properties(logical)
            env = self.resolve(props.get("Environment", {}).get("Variables", {}))
            name = self.resolve(props.get("FunctionName", f"{self.stack_name}-{logical}"))
            specs[logical] = FunctionSpec(
                logical_id=logical,
                name=name,
                code_uri=(self.root / self.resolve(props["CodeUri"])).resolve(),
                handler=self.resolve(props["Handler"]),
                timeout=int(self.resolve(props.get("Timeout", 3))),
                memory_size=int(self.resolve(props.get("MemorySize", 128))),
                environment={k: _env_string(v) for k, v in env.items()},
                layers=self._layer_dirs(props.get("Layers", [])),
            )
        return specs

    def _layer_dirs(self, layers: list[Any]) -> list[Path]:
        dirs = []
        for layer in layers:
            logical = layer.get("Ref") if isinstance(layer, dict) else None
            if logical in self.resources:
                props = self.resources[logical].get("Properties", {})
                uri = props.get("ContentUri")
                if isinstance(uri, str):
                    dirs.append((self.root / uri).resolve())
        return dirs

    def _events(self, kinds: tuple[str, ...]):
        for logical in self.of_type("AWS::Serverless::Function"):
            props = self.resources[logical].get("Properties", {})
            for event_name, event in props.get("Events", {}).items():
                if event.get("Type") in kinds:
                    yield logical, event_name, event["Type"], event.get("Properties", {})

    def http_apis(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::Serverless::HttpApi")

    def jwt_authorizers(self) -> dict[str, JwtAuthorizer]:
        """Every JWT authorizer declared on an HttpApi, by authorizer name."""
        found = {}
        for api in self.http_apis().values():
            auth = api.get("Properties", {}).get("Auth", {})
            for name, spec in auth.get("Authorizers", {}).items():
                cfg = spec.get("JwtConfiguration")
                if cfg is None:
                    continue
                audience = self.resolve(cfg.get("audience", []))
                found[name] = JwtAuthorizer(
                    name=name,
                    issuer=self.resolve(cfg["issuer"]),
                    audience=tuple([audience] if isinstance(audience, str) else audience),
                    identity_source=self.resolve(spec.get("IdentitySource", "$request.header.Authorization")),
                )
        return found

    def http_routes(self) -> list[HttpRoute]:
        apis = self.http_apis()
        routes = []
        for logical, event_name, _, props in self._events(("HttpApi",)):
            api_ref = props.get("ApiId", {})
            api_id = api_ref.get("Ref") if isinstance(api_ref, dict) else None
            api = apis.get(api_id, {}) if api_id else {}
            default_auth = api.get("Properties", {}).get("Auth", {}).get("DefaultAuthorizer")
            auth = props.get("Auth", {})
            authorizer = auth.get("Authorizer", default_auth)
            routes.append(
                HttpRoute(
                    function=logical,
                    event=event_name,
                    method=str(props.get("Method", "ANY"))
                    .upper()
                    .replace("X-AMAZON-APIGATEWAY-ANY-METHOD", "ANY"),
                    path=props.get("Path", "$default"),
                    authorizer=None if authorizer in (None, "NONE") else authorizer,
                    scopes=tuple(auth.get("AuthorizationScopes", [])),
                )
            )
        return routes

    def sqs_sources(self) -> list[SqsSource]:
        sources = []
        for logical, event_name, _, props in self._events(("SQS",)):
            queue = props["Queue"]
            if isinstance(queue, dict) and "Fn::GetAtt" in queue:
                queue_id = queue["Fn::GetAtt"][0]
            else:
                queue_id = next(
                    (k for k, p in self.physical.items() if self.resolve(queue) in p.attrs.values()), None
                )
                if queue_id is None:
                    raise TemplateError(f"{logical}.{event_name}: cannot map queue {queue!r} to the template")
            scaling = self.resolve(props.get("ScalingConfig", {}))
            sources.append(
                SqsSource(
                    function=logical,
                    event=event_name,
                    queue=queue_id,
                    batch_size=int(self.resolve(props.get("BatchSize", 10))),
                    batching_window=float(self.resolve(props.get("MaximumBatchingWindowInSeconds", 0))),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in self.resolve(props.get("FunctionResponseTypes", [])),
                    max_concurrency=int(scaling.get("MaximumConcurrency", 2)),
                    enabled=bool(self.resolve(props.get("Enabled", True))),
                )
            )
        return sources

    def schedules(self) -> list[ScheduleSource]:
        found = []
        for logical, event_name, kind, props in self._events(("Schedule", "ScheduleV2")):
            expression = self.resolve(props.get("Schedule") or props.get("ScheduleExpression"))
            enabled = self.resolve(props.get("Enabled", True))
            state = self.resolve(props.get("State", "ENABLED"))
            raw_input = self.resolve(props.get("Input"))
            found.append(
                ScheduleSource(
                    function=logical,
                    event=event_name,
                    kind=kind,
                    expression=expression,
                    interval=rate_to_seconds(expression),
                    input=json.loads(raw_input) if isinstance(raw_input, str) else raw_input,
                    enabled=bool(enabled) and str(state).upper() == "ENABLED",
                )
            )
        return found


def _env_string(value: Any) -> str:
    # Lambda environment values are strings; CloudFormation joins list parameters with commas.
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
