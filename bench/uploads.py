"""What checking an upload costs: time and peak memory of the inspector per image size and format.

Each case runs in a fresh subprocess so its peak RSS is its own. The inspector is the part of
POST /v1/uploads/{id}/complete that grows with the image (the S3 reads are bounded by
UploadMaxBytes); the figures size the API function's memory (1024 MB) and justify the
UPLOAD_MAX_PIXELS default (4096 x 4096).

    .venv/bin/python bench/uploads.py            # prints the table (--cases N: the first N)
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import Report, setup_paths

setup_paths()  # the layer, for the inspector

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


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=len(CASES), help="run only the first N cases")
    parser.add_argument("--results", default=None, help="directory for the JSON (default bench/results)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for fmt, width, height in CASES[: args.cases]:
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
    # Checked against the API function's 1024 MB: the largest accepted image must leave room.
    report = Report("uploads", parameters={"cases": args.cases})
    for fmt, size, r in rows:
        note = (
            f"{r['bytes'] / 1024:.0f} KiB, {r['ms']:.0f} ms, peak RSS {r['peak_mib']:.0f} MiB: {r['outcome']}"
        )
        report.add(f"check {fmt} {size}: RSS growth", round(r["grew_mib"]), "MiB", "<= 512", note=note)
    report.raw["cases"] = [{"format": fmt, "size": size} | r for fmt, size, r in rows]
    report.finish(args.results)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--encode":
        Path(sys.argv[5]).write_bytes(_encode(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    elif len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(_one(sys.argv[2], sys.argv[3])))
    else:
        main(sys.argv[1:])
