"""In-process Lambda runtime: load handler modules lazily and call them with a fake context."""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from stackrunner.template import ACCOUNT_ID, REGION, FunctionSpec

log = logging.getLogger("stackrunner.runtime")


class InjectedFailure(RuntimeError):
    """Raised instead of running a handler, to simulate a crashed invocation."""


class FunctionTimeout(RuntimeError):
    """The handler ran past its Timeout: Lambda would have killed it and reported an error."""


@dataclass
class LambdaContext:
    """The attributes and method handlers use from the real runtime's context object."""

    function_name: str
    memory_limit_in_mb: str  # a string in the real Python runtime too (read from the environment)
    invoked_function_arn: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionRuntime:
    def __init__(self, functions: dict[str, FunctionSpec]) -> None:
        self.functions = functions
        self._handlers: dict[str, Any] = {}
        self._modules: dict[str, Any] = {}
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self.invocations: dict[str, int] = dict.fromkeys(functions, 0)
        for spec in functions.values():
            # Layers are on sys.path in Lambda (/opt/python); the same here, from the template's ContentUri.
            # So is the function's own code (/var/task): a handler imports the modules beside it.
            for path in (*spec.layers, spec.code_uri):
                if str(path) not in sys.path:
                    sys.path.append(str(path))

    def fail_invocations(self, logical_id: str, count: int = 1) -> None:
        """Make the next `count` invocations of a function raise before reaching the handler."""
        self._spec(logical_id)
        with self._lock:
            self._failures[logical_id] = self._failures.get(logical_id, 0) + count

    def _spec(self, logical_id: str) -> FunctionSpec:
        if logical_id not in self.functions:
            raise KeyError(f"no function {logical_id} in the template (have {sorted(self.functions)})")
        return self.functions[logical_id]

    def handler(self, logical_id: str) -> Any:
        spec = self._spec(logical_id)
        with self._lock:
            if logical_id not in self._handlers:
                # A cold start: load the module under a per-function name, since every handler is app.py.
                module_name = f"fn_{logical_id}"
                loader_spec = importlib.util.spec_from_file_location(module_name, spec.module_path)
                if loader_spec is None or loader_spec.loader is None:
                    raise ImportError(f"cannot load {spec.module_path}")
                module = importlib.util.module_from_spec(loader_spec)
                sys.modules[module_name] = module
                try:
                    loader_spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(module_name, None)
                    raise
                self._modules[logical_id] = module
                self._handlers[logical_id] = getattr(module, spec.function_name)
            return self._handlers[logical_id]

    def context(self, logical_id: str) -> LambdaContext:
        spec = self._spec(logical_id)
        return LambdaContext(
            function_name=spec.name,
            memory_limit_in_mb=str(spec.memory_size),
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{spec.name}",
            timeout_seconds=spec.timeout,
        )

    def invoke(self, logical_id: str, event: Any) -> Any:
        handler = self.handler(logical_id)
        with self._lock:
            self.invocations[logical_id] += 1
            pending = self._failures.get(logical_id, 0)
            if pending:
                self._failures[logical_id] = pending - 1
        if pending:
            raise InjectedFailure(f"injected failure of {logical_id}")
        context = self.context(logical_id)
        started = time.monotonic()
        result = handler(event, context)
        elapsed = time.monotonic() - started
        timeout = self._spec(logical_id).timeout
        if elapsed > timeout:
            # In-process we cannot kill it, but the caller sees what Lambda would report: an error.
            log.warning(
                "%s ran %.1fs, over its %ss Timeout: reported as timed out", logical_id, elapsed, timeout
            )
            raise FunctionTimeout(f"{logical_id} Task timed out after {timeout} seconds")
        return result

    def unload(self) -> None:
        for logical_id, module in self._modules.items():
            if sys.modules.get(f"fn_{logical_id}") is module:
                del sys.modules[f"fn_{logical_id}"]
        self._modules.clear()
        self._handlers.clear()
