"""`python -m leonardo_simulator`: the simulator in the foreground, configured from the environment."""

from __future__ import annotations

import asyncio

from .config import SimulatorConfig
from .server import bind_socket, make_server


def main() -> None:
    cfg = SimulatorConfig.from_env()
    sock = bind_socket(cfg.host, cfg.port)
    host, port = sock.getsockname()[:2]
    host_part = f"[{host}]" if ":" in host else host
    server, _ = make_server(cfg)
    print(f"Leonardo simulator on http://{host_part}:{port}/api/rest/v1", flush=True)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


if __name__ == "__main__":
    main()
