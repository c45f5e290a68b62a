"""A local stand-in for the Leonardo.Ai REST API (generations, variations, videos, the
realtime canvas, init images, user, platform models), its CDN, the S3 bucket init images
are uploaded to and its webhook callbacks, with deterministic fault injection.

    from leonardo_simulator import SimulatorConfig, FaultConfig, serve_in_thread
    with serve_in_thread(SimulatorConfig(pending_seconds=0.2)) as sim:
        ...  # talk to sim.base_url with `authorization: Bearer sim-key`
"""

from .app import API_PREFIX, create_app
from .config import FaultConfig, SimulatorConfig
from .initimages import InitImageRecord
from .jobs import GeneratedImage, GenerationRecord
from .server import SimulatorHandle, serve_in_thread

__all__ = [
    "API_PREFIX",
    "FaultConfig",
    "GeneratedImage",
    "GenerationRecord",
    "InitImageRecord",
    "SimulatorConfig",
    "SimulatorHandle",
    "create_app",
    "serve_in_thread",
]
