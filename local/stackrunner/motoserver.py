"""moto's server for the local stack, in a process of its own, with DynamoDB made to behave.

Everything else in the local stack (gateway, functions, pollers, the Leonardo simulator) shares one
interpreter, and moto's request handling is the largest single cost in it: run in that same
process, every DynamoDB or SQS call waits for the GIL behind the code that made it. In a child
process moto has a core of its own (`python -m stackrunner.motoserver --port N` starts one by
hand). The child exits when its parent closes its stdin, so a killed parent leaves no server behind.

Whichever process it runs in, the server is patched (`patched_moto`, `make_server`):
- `IsolatedDynamoDB`: transactions isolated as DynamoDB's are (see isolation.py);
- `KeyedQueries`: a Query reads its own partition instead of sorting the whole table first
  (moto sorts every item of the table on every Query, so the reconciler's due-index queries and
  every list cost O(n log n) in the history);
- `PlainDynamoResponses`: a DynamoDB answer that is plain JSON already is written with
  `json.dumps`, not walked through botocore's output shape (that walk was 40 % of moto's time);
- `QuickSqsClock`: SQS reads the clock with `time.time()`, and a received message's retention
  from the queue's own setting: moto builds datetimes for every visibility check of every message
  and recomputes all of a queue's attributes (counting every message twice) for each message it
  hands out, so receiving from a queue with a backlog cost O(batch x backlog) datetime work;
- `cached_dispatcher`: the backend for a request is looked up once per host, not by listing
  moto's package directory and trying hundreds of URL patterns on every request.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from stackrunner.isolation import IsolatedDynamoDB

log = logging.getLogger("stackrunner.motoserver")

READY = "stackrunner-moto-ready"
# `-m stackrunner.motoserver` would import this module twice (the package imports it first).
_CHILD = "import sys; from stackrunner.motoserver import main; sys.exit(main(sys.argv[1:]))"


class KeyedQueries:
    """Narrows what moto's `Table.query` looks at to the items of the queried partition.

    moto's query starts from `all_items()`, every item of the table sorted, and filters it; the
    result is then sorted again by the query's own keys. Here `all_items()` answers, for the
    duration of one query in one thread, only the items whose key attributes equal the query's
    hash condition: moto's own code still does every check, sort, page and projection, so answers
    are the same, item for item. The base table's partition is one dictionary lookup; an index's
    is one pass over the items without the sort.
    """

    def __init__(self) -> None:
        self._saved: list[tuple[str, Any]] = []
        self._local = threading.local()

    def __enter__(self) -> KeyedQueries:
        from moto.dynamodb.models.table import Table

        original_query, original_all_items = Table.query, Table.all_items
        local = self._local

        def all_items(table: Any) -> list[Any]:
            narrowed = getattr(local, "items", None)
            if narrowed is not None and narrowed[0] is table:
                return narrowed[1]
            return original_all_items(table)

        def query(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
            index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
            conditions = kwargs.get("hash_key_conditions") or []
            if index_name:
                items = _index_partition(table, conditions) if conditions else None
            else:
                items = _table_partition(table, hash_key)
            if items is None:
                return original_query(table, hash_key, *args, **kwargs)
            local.items = (table, items)
            try:
                return original_query(table, hash_key, *args, **kwargs)
            finally:
                local.items = None

        self._saved = [("query", original_query), ("all_items", original_all_items)]
        Table.query, Table.all_items = query, all_items
        return self

    def __exit__(self, *exc: object) -> None:
        from moto.dynamodb.models.table import Table

        for name, original in self._saved:
            setattr(Table, name, original)
        self._saved = []


def _table_partition(table: Any, hash_key: Any) -> list[Any] | None:
    if hash_key is None:
        return None
    partition = table.items.get(hash_key)
    if partition is None:
        return []
    return list(partition.values()) if table.range_key_attr else [partition]


def _index_partition(table: Any, conditions: list[tuple[str, Any]]) -> list[Any]:
    # String keys (every index here) compare as strings: DynamoType's own == casts both sides.
    wanted = [(name, value.type, value.value if value.type == "S" else value) for name, value in conditions]
    found = []
    for partition in table.items.values():
        for item in partition.values() if table.range_key_attr else (partition,):
            attrs = item.attrs
            for name, kind, value in wanted:
                attr = attrs.get(name)
                if attr is None or attr.type != kind or (attr.value if kind == "S" else attr) != value:
                    break
            else:
                found.append(item)
    return found


class PlainDynamoResponses:
    """Serializes moto's DynamoDB results with `json.dumps` when they are plain JSON already.

    moto turns every result into wire form by walking the operation's output shape value by
    value. A DynamoDB result is the wire form already (attribute values as `{"S": ...}` maps),
    except for binary values (bytes) and timestamps (datetime), which need the shape: a result
    holding any of those, or a None, still goes the long way, as do errors.
    """

    def __init__(self) -> None:
        self._saved: Any = None

    def __enter__(self) -> PlainDynamoResponses:
        from moto.dynamodb.responses import DynamoResult

        original = DynamoResult.execute_result

        def execute_result(result: Any, context: Any) -> Any:
            value = result.result
            if context.service_model.protocol != "json" or not _plain(value):
                return original(result, context)
            version = context.service_model.metadata.get("jsonVersion", "1.0")
            status = context.operation_model.http.get("responseCode", 200)
            return status, {"Content-Type": f"application/x-amz-json-{version}"}, json.dumps(value)

        self._saved = original
        DynamoResult.execute_result = execute_result
        return self

    def __exit__(self, *exc: object) -> None:
        from moto.dynamodb.responses import DynamoResult

        if self._saved is not None:
            DynamoResult.execute_result = self._saved
            self._saved = None


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if kind is list:
        return all(_plain(v) for v in value)
    return kind is str or kind is bool or kind is int or kind is float


class QuickSqsClock:
    """moto's SQS with a cheap clock and a cheap retention check (the same answers)."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> QuickSqsClock:
        from moto.sqs import models

        slow_seconds, slow_millis = models.unix_time, models.unix_time_millis

        def unix_time(dt: Any = None) -> float:
            return time.time() if dt is None else slow_seconds(dt)

        def unix_time_millis(dt: Any = None) -> float:
            return time.time() * 1000.0 if dt is None else slow_millis(dt)

        def retained(backend: Any, queue_name: str, message: Any) -> bool:
            queue = backend.get_queue(queue_name)
            return int(queue.message_retention_period) + message.sent_timestamp / 1000 > time.time()

        backend = models.SQSBackend
        for owner, name, replacement in (
            (models, "unix_time", unix_time),
            (models, "unix_time_millis", unix_time_millis),
            (backend, "is_message_valid_based_on_retention_period", retained),
        ):
            self._saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, replacement)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved = []


def cached_dispatcher() -> Any:
    """moto's host-to-backend dispatcher, remembering each host's backend."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class CachedDispatcher(DomainDispatcherApplication):
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self._backends: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            if host not in self._backends:
                self._backends[host] = super().get_backend_for_host(host)
            return self._backends[host]

    return CachedDispatcher()


@contextlib.contextmanager
def patched_moto() -> Iterator[None]:
    """The patches every local moto gets, applied to moto's classes in this process."""
    with IsolatedDynamoDB(), KeyedQueries(), PlainDynamoResponses(), QuickSqsClock():
        yield


def make_server(host: str, port: int) -> Any:
    """A threaded werkzeug server for moto, as moto's ThreadedMotoServer makes it, with keep-alive."""
    from werkzeug.serving import make_server as werkzeug_server

    return werkzeug_server(host, port, cached_dispatcher(), True, request_handler=keep_alive_handler())


@functools.cache
def keep_alive_handler(idle_seconds: float = 60.0) -> type:
    """moto's request handler, keeping each connection open for the client's next request.

    werkzeug's development server closes every connection after one response ("Connection: close"),
    because Python's http.server cannot tell where an unread request body ends, and after each
    response it reads whatever else the client sent. So each AWS call paid a TCP connect, an
    accept and a new server thread, and the SDK found its pooled connection dropped every time.
    Here a request whose body length is known (a Content-Length, or none and no chunked body) is
    read through a stream that ends with its body, so nothing of the next request is read with it,
    the rest of its body is read once the response is sent, and the connection stays open. A chunked
    body is served as werkzeug serves it, and closes the connection. A connection left idle for
    `idle_seconds` between requests is closed without a word (the SDK opens another when it needs
    one); a request that stalls part-way still logs its timeout as an error.
    """
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.wsgi import LimitedStream

    class KeepAliveRequestHandler(MotoRequestHandler):  # type: ignore[misc, valid-type]
        timeout = idle_seconds  # seconds a kept-alive connection waits for its next request
        disable_nagle_algorithm = True  # headers and body leave in two writes: no delayed-ACK stall
        body: Any = None  # this request's body, when its end is known
        idle = True  # between requests: waiting for the next request line

        def parse_request(self) -> bool:
            self.idle = False  # a request line came in: its headers are read from here
            return bool(super().parse_request())

        def log_error(self, format: str, *args: Any) -> None:
            if self.idle and format.startswith("Request timed out"):
                return  # an idle kept-alive connection closing is routine, not an error
            super().log_error(format, *args)

        def run_wsgi(self) -> None:
            length = self.headers.get("Content-Length", "0").strip()
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or not length.isdigit():
                self.body = None
                super().run_wsgi()
                self.idle = True
                return
            connection = self.rfile
            self.body = self.rfile = LimitedStream(connection, int(length))
            try:
                super().run_wsgi()
            finally:
                self.rfile = connection
            if not self.close_connection:
                self.body.exhaust()  # what moto left unread, so the next request line starts clean
            self.idle = True

        def send_header(self, keyword: str, value: str) -> None:
            if keyword.lower() == "connection" and value.lower() == "close" and self.body is not None:
                return  # werkzeug's blanket close: this request's end is known, so keep the connection
            super().send_header(keyword, value)

    return KeepAliveRequestHandler


class InThreadMoto:
    """moto in this process, on a thread: for callers that need moto's state in-process."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._patches = contextlib.ExitStack()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._patches.enter_context(patched_moto())
        self._server = make_server(self.host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._patches.close()


class ChildProcessMoto:
    """moto in a child process: `python -m stackrunner.motoserver`, stopped by closing its stdin."""

    def __init__(self, host: str, port: int, start_timeout: float = 30.0) -> None:
        self.host, self.port, self.start_timeout = host, port, start_timeout
        self._process: Any = None

    def start(self) -> None:
        import subprocess

        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(  # noqa: S603 (this interpreter, our own module)
            [sys.executable, "-c", _CHILD, "--host", self.host, "--port", str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        ready = threading.Event()
        threading.Thread(target=self._wait_ready, args=(ready,), daemon=True).start()
        if not ready.wait(self.start_timeout) or self._process.poll() is not None:
            self.stop()
            raise RuntimeError(f"moto's server did not start on {self.host}:{self.port} (port in use?)")

    def _wait_ready(self, ready: threading.Event) -> None:
        for line in self._process.stdout:
            if line.strip() == READY:
                ready.set()
                return

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            process.stdin.close()  # the child's signal to exit
        try:
            process.wait(timeout=5)
        except Exception:
            process.kill()
            process.wait(timeout=5)


def _exit_when_parent_goes() -> None:
    """The parent holds our stdin open for as long as it wants the server."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="moto's server for the local stack, patched (child process)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s moto %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    with patched_moto():
        server = make_server(args.host, args.port)
        print(READY, flush=True)
        threading.Thread(target=_exit_when_parent_goes, name="parent-watch", daemon=True).start()
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
