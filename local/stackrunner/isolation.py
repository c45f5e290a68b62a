"""Lambda's isolation, restored for in-process functions and moto's DynamoDB.

On AWS each execution environment runs one event at a time and DynamoDB transactions are isolated.
In-process, several threads call the same handler module, and moto's server is threaded: without
these two pieces, concurrent requests and batches (any `make run` under load) overwrite each other's
Powertools state, and moto's failed transactions undo other threads' writes.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
import threading
from collections import Counter, defaultdict
from contextvars import ContextVar
from typing import Any

# ----- one invocation per execution environment ---------------------------------------------------


class ExecutionEnvironments:
    """Gives each concurrent invocation of a function its own copy of the handler module.

    Lambda runs one event at a time per execution environment, and handler modules rely on it:
    Powertools keeps per-invocation state on module-level objects (the API and webhook resolvers'
    `current_event`, the SQS handlers' `BatchProcessor` records and failures). The local runtime
    loads one module per function and calls it from several threads at once, so concurrent
    invocations overwrite each other's state (a job created under another caller's `sub`, a failed
    record reported in another batch's response). Here every invocation takes a free environment, or
    cold-starts a new module copy, so concurrency stays what the template allows and no state is shared.
    Every copy runs under the same module name, as every Lambda environment imports the same `app`.

    Module copies are not enough for functions built on Powertools' event handler: it stores the
    event on the `BaseRouter` class (`BaseRouter.current_event = ...`), shared by every resolver in
    the process. Invocations of the functions in `serialized` (the HTTP API's) whose module holds a
    resolver or router therefore run one at a time, process-wide. The others (the webhook, matched
    by hand, and the docs) run side by side like any function: a callback is not held behind a
    create.

    The layer's Powertools Logger is one object in the process, shared by every function, and it
    keeps the keys it adds to each line (`function_name`, `function_request_id`, `correlation_id`,
    `cold_start`, whatever a handler appends) on its formatter. While environments run, each one
    gets its own copy of those keys and its own cold start (`EnvironmentLogState`), as each Lambda
    environment has its own Logger: a line carries its own invocation's keys, not those of one
    running beside it.
    """

    def __init__(self, runtime: Any, serialized: set[str] | None = None) -> None:
        self._runtime = runtime
        self._serialized = serialized or set()
        self._http_lock = threading.Lock()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()  # one module copy executing under the shared name at a time
        self._free: dict[str, list[Any]] = defaultdict(list)
        self._count: Counter[str] = Counter()
        self._modules: list[str] = []
        self._previous: Any = None
        self._router_held: dict[str, bool] = {}  # function -> holds_a_router(its handler)
        self._log_state: EnvironmentLogState | None = None  # installed by this set of environments

    def __enter__(self) -> ExecutionEnvironments:
        self._log_state = EnvironmentLogState.install()
        self._previous = self._runtime.__dict__.get("handler")
        original = self._runtime.handler
        self._first = original

        def handler(logical_id: str) -> Any:
            original(logical_id)  # the runtime's own cold start, and its checks
            return lambda event, context: self._invoke(logical_id, event, context)

        self._runtime.handler = handler
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is None:
            self._runtime.__dict__.pop("handler", None)
        else:
            self._runtime.handler = self._previous
        for name in self._modules:
            sys.modules.pop(name, None)
        if self._log_state is not None:
            self._log_state.uninstall()

    @property
    def environments(self) -> dict[str, int]:
        return dict(self._count)

    def _invoke(self, logical_id: str, event: Any, context: Any) -> Any:
        with self._lock:
            free = self._free[logical_id]
            environment = free.pop() if free else None
            if environment is None:
                self._count[logical_id] += 1
                number = self._count[logical_id]
        if environment is None:
            environment = self._first(logical_id) if number == 1 else self._load(logical_id, number)
        running = _ENVIRONMENT.set(environment)
        try:
            if logical_id in self._serialized and self._holds_a_router(logical_id, environment):
                with self._http_lock:
                    return environment(event, context)
            return environment(event, context)
        finally:
            _ENVIRONMENT.reset(running)
            with self._lock:
                self._free[logical_id].append(environment)

    def _holds_a_router(self, logical_id: str, environment: Any) -> bool:
        # Every copy of a module holds the same kind of objects: decided once, at its first environment.
        known = self._router_held.get(logical_id)
        if known is None:
            known = self._router_held[logical_id] = holds_a_router(environment)
        return known

    def _load(self, logical_id: str, number: int) -> Any:
        """Another copy of the function's handler module, under the first copy's module name.

        On Lambda every execution environment imports the handler as the same module, and what is
        keyed on the module name is shared by all of them: Powertools Idempotency keys each record
        `<function>#<module>.<qualname>#<hash>`. Under a name of its own, each copy kept its own
        Idempotency records, so a message delivered again to another environment was processed
        again (a second GET and a second copy of the outputs). The copy is registered in
        `sys.modules` under a key of its own, and under the shared name only while it executes, so
        names it resolves through its module at import (pydantic, dataclasses) are its own.
        """
        spec = self._runtime.functions[logical_id]
        shared = getattr(self._first(logical_id), "__module__", None) or f"fn_{logical_id}"
        loader = importlib.util.spec_from_file_location(shared, spec.module_path)
        assert loader is not None and loader.loader is not None
        module = importlib.util.module_from_spec(loader)
        key = f"{shared}_env{number}"
        with self._load_lock:
            first = sys.modules.get(shared)
            sys.modules[shared] = module
            try:
                loader.loader.exec_module(module)
            finally:
                if first is None:
                    sys.modules.pop(shared, None)
                else:
                    sys.modules[shared] = first
        sys.modules[key] = module
        with self._lock:
            self._modules.append(key)
        return getattr(module, spec.function_name)


# The execution environment the current thread is running an event in (None: none, as at import).
_ENVIRONMENT: ContextVar[Any] = ContextVar("stackrunner_environment", default=None)


class EnvironmentLogState:
    """What Powertools' Logger keeps per process, kept per execution environment: the formatter's
    keys (`log_format`) and the cold-start flag.

    Set on the formatter class, this data descriptor takes the place of each formatter's own
    `log_format` attribute: read or written outside an event (at import, when the Logger is built),
    it is the formatter's own dict, as before; inside an event, the environment's copy, made from
    the formatter's own the first time that environment reads it. Keys an environment appends stay
    with it from one of its events to the next, as they do on Lambda. In place of the Logger
    module's `_is_cold_start` (a flag of the process: only its first event was a cold start), each
    environment's first event is its cold start.
    """

    OWN = "log_format"  # the instance attribute the formatter's methods read and write
    COPIES = "_stackrunner_log_formats"  # environment -> its keys, on each formatter

    def __init__(self, owner: type, logger_module: Any) -> None:
        self._owner = owner
        self._logger_module = logger_module
        self._process_cold_start = logger_module._is_cold_start
        self._started: set[Any] = set()  # the environments whose first event has asked

    @classmethod
    def install(cls) -> EnvironmentLogState | None:
        """On the Powertools formatter class, unless already there (an enclosing set of environments)."""
        from aws_lambda_powertools.logging import logger as logger_module
        from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

        if isinstance(LambdaPowertoolsFormatter.__dict__.get(cls.OWN), cls):
            return None
        state = cls(LambdaPowertoolsFormatter, logger_module)
        setattr(LambdaPowertoolsFormatter, cls.OWN, state)
        logger_module._is_cold_start = state.is_cold_start
        return state

    def uninstall(self) -> None:
        if self._owner.__dict__.get(self.OWN) is self:
            delattr(self._owner, self.OWN)
        if self._logger_module._is_cold_start == self.is_cold_start:
            self._logger_module._is_cold_start = self._process_cold_start

    def is_cold_start(self) -> bool:
        environment = _ENVIRONMENT.get()
        if environment is None:
            return bool(self._process_cold_start())
        if environment in self._started:
            return False
        self._started.add(environment)
        return True

    def __get__(self, formatter: Any, owner: type | None = None) -> Any:
        if formatter is None:
            return self
        state = vars(formatter)
        if self.OWN not in state:
            raise AttributeError(self.OWN)
        environment = _ENVIRONMENT.get()
        if environment is None:
            return state[self.OWN]
        copies = state.setdefault(self.COPIES, {})
        if environment not in copies:
            copies[environment] = dict(state[self.OWN])
        return copies[environment]

    def __set__(self, formatter: Any, keys: dict[str, Any]) -> None:
        state = vars(formatter)
        environment = _ENVIRONMENT.get()
        if environment is None or self.OWN not in state:
            state[self.OWN] = keys
        if environment is not None:
            state.setdefault(self.COPIES, {})[environment] = keys


def holds_a_router(handler: Any) -> bool:
    """Whether a handler's module keeps a Powertools resolver or router (whose event lives on a class
    shared process-wide). A handler whose module cannot be found counts as one, to be safe."""
    module = sys.modules.get(getattr(handler, "__module__", ""))
    if module is None:
        return True
    routing = sys.modules.get("aws_lambda_powertools.event_handler.api_gateway")
    return routing is not None and any(isinstance(v, routing.BaseRouter) for v in vars(module).values())


# ----- DynamoDB transactions that behave like DynamoDB's ------------------------------------------


class IsolatedDynamoDB:
    """Serializes moto's DynamoDB backend and makes a failed transaction undo only its own items.

    moto's `transact_write_items` deep-copies every table it touches and, when any condition fails,
    puts that copy back: writes that other threads made in between (moto's server is threaded) are
    silently undone, and the deep copy itself can fail with "dictionary changed size during
    iteration" (an HTTP 500). In the local stack failed transactions are routine (a full semaphore,
    a lost race), so without this a chaos run measures moto, not the product: slot counts drift,
    transitions vanish, a SUBMITTED write is lost and the job is submitted again. Real DynamoDB
    transactions are isolated and touch only their own items; this restores that for the run.
    """

    ENTRY_POINTS = ("put_item", "get_item", "update_item", "delete_item", "query", "scan")

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._saved: list[tuple[str, Any]] = []

    def __enter__(self) -> IsolatedDynamoDB:
        from moto.dynamodb import models
        from moto.dynamodb.models.dynamo_type import DynamoType

        backend_class = models.DynamoDBBackend
        lock = self._lock
        no_copy = type("NoCopy", (), {"deepcopy": staticmethod(lambda value, memo=None: value)})

        def serialized(original: Any) -> Any:
            def call(backend: Any, *args: Any, **kwargs: Any) -> Any:
                with lock:
                    return original(backend, *args, **kwargs)

            return call

        original_transact = backend_class.transact_write_items

        def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
            with lock:
                touched = []
                for entry in transact_items:
                    op = next(iter(entry.values()))
                    table = backend.tables.get(op.get("TableName"))
                    key = op.get("Key") or op.get("Item") or {}
                    if table is None or table.hash_key_attr not in key:
                        continue
                    hash_value = DynamoType(key[table.hash_key_attr])
                    range_value = (
                        DynamoType(key[table.range_key_attr])
                        if table.range_key_attr and table.range_key_attr in key
                        else None
                    )
                    if table.range_key_attr and range_value is None:
                        continue
                    before = table.get_item(hash_value, range_value)
                    touched.append((table, hash_value, range_value, copy.deepcopy(before)))
                models.copy = no_copy  # moto's whole-table snapshot: replaced by the per-item one above
                try:
                    return original_transact(backend, transact_items)
                except Exception:
                    for table, hash_value, range_value, before in reversed(touched):
                        if before is None:
                            table.delete_item(hash_value, range_value)
                        elif range_value is not None:
                            table.items[hash_value][range_value] = before
                        else:
                            table.items[hash_value] = before
                    raise
                finally:
                    models.copy = copy

        for name in self.ENTRY_POINTS:
            self._saved.append((name, getattr(backend_class, name)))
            setattr(backend_class, name, serialized(getattr(backend_class, name)))
        self._saved.append(("transact_write_items", original_transact))
        backend_class.transact_write_items = transact_write_items
        return self

    def __exit__(self, *exc: object) -> None:
        from moto.dynamodb import models

        for name, original in self._saved:
            setattr(models.DynamoDBBackend, name, original)
        self._saved = []
