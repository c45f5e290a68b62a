"""What checking an upload costs: time and peak memory of the inspector per image size and format.

Each case runs in a fresh subprocess so its peak RSS is its own. The inspector is the part of
POST /v1/uploads/{id}/complete that grows with the image (the S3 reads are bounded by
UploadMaxBytes); the figures size the API function's memory (1024 MB) and justify the
UPLOAD_MAX_PIXELS default (4096 x 4096).

    .venv/bin/python bench/uploads.py            # prints the table
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = [
    ("PNG", 512, 512),
    ("PNG", 1024, 1024),
    ("PNG", 2048, 2048),
    ("PNG", 4096, 4096),
    ("JPEG", 1024, 1024),
    ("JPEG", 4096, 4096),
    ("WEBP", 2048, 2048),
    ("PNG-bomb", 60000, 60000),
]
TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def _encode(fmt: str, width: int, height: int) -> bytes:
    import random
    import struct
    import zlib

    from PIL import Image

    if fmt == "PNG-bomb":  # a 1x1 PNG whose header claims width x height
        buffer = io.BytesIO()
        Image.new("L", (1, 1)).save(buffer, format="PNG")
        png = bytearray(buffer.getvalue())
        png[16:24] = struct.pack(">II", width, height)
        png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])) & 0xFFFFFFFF)
        return bytes(png)
    rng = random.Random(7)  # noisy pixels: realistic file sizes, not all-flat colour
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _one(fmt: str, path: str) -> dict:
    """Check the file at `path` in this (fresh) process; peak RSS growth is the check's own."""
    import resource

    from gencore.adapters.images import PillowInspector
    from gencore.domain.errors import UploadRejected

    data = Path(path).read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        PillowInspector().inspect(data, declared=TYPES[fmt.split("-")[0]], max_pixels=4096 * 4096)
        outcome = "READY"
    except UploadRejected as rejected:
        outcome = rejected.code
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"bytes": len(data), "ms": elapsed * 1000, "peak_mib": peak / 1024,
            "grew_mib": (peak - before) / 1024, "outcome": outcome}  # fmt: skip


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for fmt, width, height in CASES:
            path = Path(scratch) / f"{fmt}-{width}"
            # Encoding in a process of its own too: Linux carries peak RSS across fork and exec.
            subprocess.run(  # noqa: S603 (this very script, with our own arguments)
                [sys.executable, __file__, "--encode", fmt, str(width), str(height), str(path)], check=True
            )
            out = subprocess.run(  # noqa: S603 (this very script, with our own arguments)
                [sys.executable, __file__, "--one", fmt, str(path)],
                check=True,
                capture_output=True,
                text=True,
            )
            rows.append((fmt, f"{width}x{height}", json.loads(out.stdout.strip().splitlines()[-1])))
    print("Upload check (PillowInspector.inspect), one fresh process per case")
    header = f"{'format':<9} {'pixels':>12} {'file KiB':>9} {'check ms':>9} {'peak RSS MiB':>13} "
    header += f"{'grew MiB':>9}  outcome"
    print(header)
    print("-" * len(header))
    for fmt, size, r in rows:
        print(f"{fmt:<9} {size:>12} {r['bytes'] / 1024:>9.0f} {r['ms']:>9.1f} {r['peak_mib']:>13.0f} "
              f"{r['grew_mib']:>9.0f}  {r['outcome']}")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--encode":
        Path(sys.argv[5]).write_bytes(_encode(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    elif len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(_one(sys.argv[2], sys.argv[3])))
    else:
        main()
