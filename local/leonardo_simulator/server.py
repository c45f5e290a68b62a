"""Running the simulator: in a background thread for tests, or in the foreground."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import uvicorn

from .app import API_PREFIX, create_app
from .config import FaultConfig, SimulatorConfig
from .initimages import InitImageRecord
from .jobs import GenerationRecord
from .simulator import Simulator

STARTUP_TIMEOUT_SECONDS = 10.0


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind (port 0 = any free port) before uvicorn starts, so the port is known up front."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # An explicit IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted
    # sockets whose proto says TCP, and without it every response waits ~40 ms
    # on Nagle + delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def make_server(cfg: SimulatorConfig) -> tuple[uvicorn.Server, Simulator]:
    app = create_app(cfg)
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level="warning",
        access_log=False,
        # Slow CDN streams must not hold shutdown hostage.
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config), app.state.simulator


class SimulatorHandle:
    """What `serve_in_thread` yields: addresses plus test-side views of the state."""

    def __init__(self, simulator: Simulator, host: str, port: int) -> None:
        self._simulator = simulator
        host_part = f"[{host}]" if ":" in host else host
        self.host = host
        self.port = port
        self.origin = f"http://{host_part}:{port}"
        self.base_url = self.origin + API_PREFIX
        self.config = simulator.cfg

    def configure(self, **changes: Any) -> None:
        """Change account settings of the running simulator (`cost_unit`, `send_retry_after`, ...)."""
        self._simulator.cfg = dataclasses.replace(self._simulator.cfg, **changes)
        self.config = self._simulator.cfg

    def stats(self) -> dict[str, Any]:
        return self._simulator.stats.snapshot()

    def set_faults(self, faults: FaultConfig) -> None:
        self._simulator.set_faults(faults)

    @property
    def faults(self) -> FaultConfig:
        return self._simulator.faults.config

    @property
    def generations(self) -> Mapping[str, GenerationRecord]:
        """Read-only snapshot (id -> record) taken at access time."""
        return self._simulator.generations

    def generation_log(self) -> list[dict[str, Any]]:
        """Every generation created since the last reset, oldest first, as
        GET /_admin/generations answers it (id, createdAt, status, request, cost, answer ...)."""
        return self._simulator.generation_log()

    def variation_log(self) -> list[dict[str, Any]]:
        """Every variation created since the last reset (GET /_admin/variations)."""
        return self._simulator.variation_log()

    @property
    def init_images(self) -> Mapping[str, InitImageRecord]:
        """Read-only snapshot (id -> record, with the uploaded bytes) taken at access time."""
        return self._simulator.init_image_records


@contextmanager
def serve_in_thread(cfg: SimulatorConfig | None = None) -> Iterator[SimulatorHandle]:
    cfg = cfg or SimulatorConfig()
    sock = bind_socket(cfg.host, cfg.port)
    port = sock.getsockname()[1]
    server, simulator = make_server(cfg)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # surfaced to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"leonardo-simulator-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"Leonardo simulator failed to start: {failure or 'timeout'}")
            time.sleep(0.01)
        yield SimulatorHandle(simulator, cfg.host, port)
    finally:
        simulator.release_held_answers()  # slow answers would hold the shutdown back
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        sock.close()
