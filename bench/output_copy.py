"""Output copy: peak memory and throughput of copying one large CDN file into S3 (issue 10).

Target: peak RSS growth <= 64 MB while `S3OutputStore.copy` streams a 500 MB video from the
Leonardo simulator's CDN into S3, at >= 0.8x the throughput of a plain boto3 `upload_file` of the
same bytes from disk (the naive baseline, measured in the same run).

Processes: this one orchestrates and serves the simulator (a thread, `output_bytes` set so each
generated file is a large MP4 made while streaming); a moto server in a process of its own is S3
(it keeps objects in its own memory, which is not measured); each measurement runs in a fresh
child, the copier or the baseline uploader, which reports only itself: the transfer's wall time
and its peak RSS growth (the kernel's high-water mark VmHWM, reset after imports and client setup,
minus the RSS at that moment). Rounds alternate the order of the two (ABBA), so drift on a shared
machine falls on both sides; the ratio is the median of the per-round ratios.

    .venv/bin/python bench/output_copy.py                         # 500 MB, 5 rounds
    .venv/bin/python bench/output_copy.py --mb 20 --rounds 1      # the smoke form
    .venv/bin/python bench/output_copy.py --default-config-rounds 1  # also boto3's default TransferConfig

MB here is 10^6 bytes, for file sizes, memory and throughput alike.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import ROOT, Report, median, setup_paths

setup_paths()

MB = 1_000_000
BUCKET = "bench-outputs"
API_KEY = "bench-key"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
CHILD_TIMEOUT_SECONDS = 900


# ----- in a child: one transfer, measured from inside ---------------------------------------------


def _status_bytes(field: str) -> int | None:
    """A `VmRSS`/`VmHWM` line of /proc/self/status in bytes (None where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _mark() -> tuple[int, str]:
    """Reset the peak to the current RSS and return that RSS, or fall back to getrusage's peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := VmRSS
        rss = _status_bytes("VmRSS")
        if rss is not None:
            return rss, "VmHWM reset"
    except OSError:
        pass
    return _maxrss(), "ru_maxrss (a lower bound: growth over the process's earlier peak)"


def _peak() -> int:
    hwm = _status_bytes("VmHWM")
    return hwm if hwm is not None else _maxrss()


def _maxrss() -> int:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _child(args: argparse.Namespace) -> None:
    import gc

    import boto3

    s3 = boto3.client("s3", endpoint_url=args.endpoint, **CREDENTIALS)
    s3.head_bucket(Bucket=BUCKET)  # loads the S3 model and opens a connection before the mark
    if args.child == "baseline":

        def transfer() -> int:
            s3.upload_file(args.path, BUCKET, args.key)
            return os.path.getsize(args.path)
    else:
        from gencore.adapters import outputs

        if args.child == "default-config":  # what boto3's defaults would hold: 10 parts in memory
            from boto3.s3.transfer import TransferConfig

            outputs._transfer_config = TransferConfig  # the bench's one what-if
        fetcher = outputs.OutputFetcher(outputs.parse_origins(outputs.origin_of(args.url) or ""))
        store = outputs.S3OutputStore(s3, BUCKET, fetcher)
        prefix, _, _ = args.key.rpartition("/")

        def transfer() -> int:
            image = store.copy(args.url, prefix, index=0, source_id="bench")
            assert image.key == args.key, image.key
            return image.size

    gc.collect()
    start_rss, method = _mark()
    started, cpu_started = time.perf_counter(), time.process_time()
    size = transfer()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peak = _peak()
    print(json.dumps({"bytes": size, "seconds": seconds, "cpu_seconds": cpu, "start_rss": start_rss,
                      "peak_rss": peak, "growth": peak - start_rss, "method": method}))  # fmt: skip


# ----- in the parent: servers, the file, the rounds -----------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_moto(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    import boto3
    import botocore.exceptions

    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 (our own interpreter, moto's module)
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)
    deadline = time.monotonic() + 30
    while True:
        try:
            s3.create_bucket(Bucket=BUCKET)
            return process, endpoint
        except botocore.exceptions.EndpointConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"moto server did not start; see {log}") from None
            time.sleep(0.2)


def _generated_url(sim: Any, seed: int) -> str:
    """One generation through the simulator's API; its file is the large one."""
    import httpx

    headers = {"authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=sim.base_url, headers=headers, timeout=10) as client:
        body = {"prompt": "a long tracking shot of a lighthouse", "seed": seed, "num_images": 1,
                "width": 512, "height": 512}  # fmt: skip
        created = client.post("/generations", json=body)
        created.raise_for_status()
        generation_id = created.json()["sdGenerationJob"]["generationId"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            generation = client.get(f"/generations/{generation_id}").json()["generations_by_pk"]
            if generation["status"] == "COMPLETE":
                return generation["generated_images"][0]["url"]
            time.sleep(0.05)
    raise RuntimeError("the simulator's generation did not complete")


def _download(url: str, path: Path) -> tuple[float, str]:
    """The CDN file to disk, for the baseline; returns the download's seconds and the sha256."""
    import httpx

    digest = hashlib.sha256()
    started = time.perf_counter()
    with httpx.stream("GET", url, timeout=60) as response, path.open("wb") as out:
        response.raise_for_status()
        for chunk in response.iter_bytes(1024 * 1024):
            digest.update(chunk)
            out.write(chunk)
    return time.perf_counter() - started, digest.hexdigest()


def _run_child(kind: str, args: argparse.Namespace, endpoint: str, url: str, path: Path, key: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--endpoint", endpoint,
               "--url", url, "--path", str(path), "--key", key]  # fmt: skip
    done = subprocess.run(  # noqa: S603 (this script)
        command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _stored(s3: Any, key: str, expected_size: int, sha256: str | None) -> None:
    """The object is there, whole (and, when asked, byte for byte); then it goes, to spare moto."""
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == expected_size, (key, head["ContentLength"], expected_size)
    if sha256 is not None:
        digest = hashlib.sha256()
        for chunk in s3.get_object(Bucket=BUCKET, Key=key)["Body"].iter_chunks(1024 * 1024):
            digest.update(chunk)
        assert digest.hexdigest() == sha256, f"{key}: the stored bytes differ from the CDN's"
    s3.delete_object(Bucket=BUCKET, Key=key)


def _measure(args: argparse.Namespace) -> Report:
    import boto3

    from leonardo_simulator import SimulatorConfig, serve_in_thread

    size = args.mb * MB
    chosen = {name: value for name, value in vars(args).items() if value is not None}
    report = Report("output_copy", parameters=chosen | {"bytes": size})
    work = Path(tempfile.mkdtemp(prefix="bench-output-copy-"))
    moto, endpoint = _start_moto(work / "moto.log")
    s3 = boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)
    config = SimulatorConfig(api_key=API_KEY, pending_seconds=0.0, output_bytes=size, output_type="video/mp4")
    rounds: list[dict[str, Any]] = []
    try:
        with serve_in_thread(config) as sim:
            url = _generated_url(sim, args.seed)
            path = work / "output.mp4"
            download_seconds, sha256 = _download(url, path)
            for n in range(args.rounds):
                order = ("baseline", "copier") if n % 2 == 0 else ("copier", "baseline")
                results: dict[str, Any] = {}
                for kind in order:
                    key = f"outputs/bench/{kind}-{n}/0.mp4"
                    results[kind] = _run_child(kind, args, endpoint, url, path, key)
                    _stored(s3, key, size, sha256 if n == 0 else None)
                    print(f"round {n + 1} {kind}: {size / MB / results[kind]['seconds']:.0f} MB/s, "
                          f"RSS +{results[kind]['growth'] / MB:.1f} MB", flush=True)  # fmt: skip
                rounds.append(results)
            defaults = []
            for n in range(args.default_config_rounds):
                key = f"outputs/bench/default-config-{n}/0.mp4"
                defaults.append(_run_child("default-config", args, endpoint, url, path, key))
                _stored(s3, key, size, None)
            cdn_downloads = sim.stats()["cdn_downloads"]
    finally:
        moto.terminate()
        moto.wait(timeout=10)
        for leftover in work.iterdir():
            leftover.unlink()
        work.rmdir()

    def rate(result: dict) -> float:
        return result["bytes"] / MB / result["seconds"]

    copy_growth = max(r["copier"]["growth"] for r in rounds) / MB
    ratios = [rate(r["copier"]) / rate(r["baseline"]) for r in rounds]
    note = f"{args.mb} MB video/mp4, max of {args.rounds} round(s)"
    report.add("copy: peak RSS growth", copy_growth, "MB", "<= 64", note)
    report.add("copy: throughput", median([rate(r["copier"]) for r in rounds]), "MB/s", note="median")
    report.add("upload_file from disk (baseline)", median([rate(r["baseline"]) for r in rounds]), "MB/s",
               note="median; naive baseline, same bytes")  # fmt: skip
    report.add("copy / baseline throughput", median(ratios), "x", ">= 0.8", "median of per-round ratios")
    report.add("baseline: peak RSS growth", max(r["baseline"]["growth"] for r in rounds) / MB, "MB",
               note="reads the file part by part")  # fmt: skip

    def cpu_per_gb(kind: str) -> float | None:
        return median([1000 * MB * r[kind]["cpu_seconds"] / r[kind]["bytes"] for r in rounds])

    report.add("copy: CPU per GB", cpu_per_gb("copier"), "s", note="median; the copying process only")
    report.add("baseline: CPU per GB", cpu_per_gb("baseline"), "s", note="median")
    report.add("CDN download alone", size / MB / download_seconds, "MB/s", note="simulator to disk, parent")
    if defaults:
        default_growth = max(d["growth"] for d in defaults) / MB
        report.add("copy, boto3's default TransferConfig: peak RSS growth", default_growth, "MB",
                   note="10 parts in memory: the bound replaced")  # fmt: skip
        report.add("copy, boto3's default TransferConfig: throughput", median([rate(d) for d in defaults]),
                   "MB/s")  # fmt: skip
    report.raw = {
        "rounds": rounds,
        "default_config": defaults,
        "ratios": ratios,
        "download_seconds": download_seconds,
        "sha256": sha256,
        "cdn_downloads": cdn_downloads,
        "memory_method": rounds[0]["copier"]["method"] if rounds else None,
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=500, help="size of the CDN file in MB (default 500)")
    parser.add_argument("--rounds", type=int, default=5, help="copy + baseline pairs, ABBA order (default 5)")
    parser.add_argument("--default-config-rounds", type=int, default=0,
                        help="also copy with boto3's default TransferConfig this many times")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7, help="the generation's seed: the file's bytes")
    parser.add_argument("--results", default=None, help="directory for the JSON (default bench/results)")
    # The children's arguments (this script runs itself): not for use by hand.
    parser.add_argument("--child", choices=("copier", "baseline", "default-config"), help=argparse.SUPPRESS)
    for name in ("--endpoint", "--url", "--path", "--key"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    if args.mb < 1 or args.rounds < 1:
        parser.error("--mb and --rounds must be at least 1")
    report = _measure(args)
    report.finish(args.results)


if __name__ == "__main__":
    main()
