"""Cold starts: each function's init-phase import against `import boto3, aws_lambda_powertools`.

    .venv/bin/python bench/cold_start.py               # 11 samples of each, alternating
    .venv/bin/python bench/cold_start.py --samples 21  # tighter medians

At a cold start Lambda's Python runtime imports the handler module (the init phase) with the
function's CodeUri on the path as /var/task, the layer as /opt/python, and the runtime's own
boto3 after them. This bench builds that file system offline from the installed distributions:

- `runtime/`: boto3 and its dependencies, compiled (the runtime ships them so);
- `opt/python/`: the layer, i.e. the closure of layers/core/requirements.txt (as `pip install
  --target` would lay it out) and gencore, built the way template.yaml builds it: with BuildMethod
  makefile, `layers/core/Makefile`'s `bytecode` step is run on it; with SAM's python builder the
  layer has no bytecode, and Lambda's /opt is read-only, so it is compiled again at every cold start;
- `task/<Function>/`: the function's CodeUri.

Each sample is a fresh interpreter (`-I -S -B`: no site-packages but these paths, nothing
written) with the function's environment from the template plus the variables Lambda itself
sets (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, ...: Powertools' Tracer only traces inside
Lambda), and times the import of the handler module alone. Samples alternate, in a seeded
shuffled order each round, between the baseline, each function and each function's floor:

- **baseline**: `import boto3, aws_lambda_powertools` on the same paths, with the layer compiled
  (as in a virtual environment: a worse layer build cannot make the ratios look better);
- **floor**: the third-party imports a function's design mandates and nothing of ours (the
  webhook's floor is the baseline itself: Logger, Metrics and boto3);
- **api, layer without bytecode**: the API function on the layer as SAM's python builder makes
  it, to show what compiling the layer at build is worth.

Figures are ratios of medians to the baseline's median, and to the function's own floor (what our
code adds above the imports its design mandates), with the milliseconds in the notes, and which
heavy packages each function loads at init (the import table).

For the functions with SnapStart (template.yaml) the bench also times the first event's build:
what `gencore.snapstart.install(prime=...)` builds before the snapshot (use cases, boto3 clients,
the API's validation; nothing is sent). Without SnapStart the first event pays it; with SnapStart
it is in the snapshot. It is timed in a fresh interpreter after the handler's import, with a
stand-in for the runtime's `snapshot_restore_py` that records the hooks. Sizes: each function's
package (zipped CodeUri) and the layer (zipped and unzipped; Lambda's limit is 250 MB unzipped for
a function and its layers). Exact counts beside the timings, untimed, one interpreter each: the
modules of ours each function loads at init (and with the first event's build), and the pydantic
models and dataclasses they create (each class is built at every cold start). Raw samples go to
bench/results/cold_start.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import ROOT, Report, median, ratio, setup_paths

setup_paths()

from packaging.requirements import Requirement  # noqa: E402

from stackrunner.template import ACCOUNT_ID, REGION, Template  # noqa: E402

LAYER = ROOT / "layers/core"
BASELINE = "import boto3, aws_lambda_powertools"
TARGETS = {"WebhookFunction": "<= 1.2"}  # every other function: "<= 1.5"
# What each function's design mandates, without any code of ours: boto3 and Powertools' Logger and
# Metrics everywhere (the baseline), a validated Event Handler with one pydantic model for the API,
# the batch utility and one pydantic message for the queue consumers (plus Idempotency for the
# processor), pydantic for the reconciler's settings. The webhook's floor is the baseline itself.
# The batch utility comes before pydantic, as in the functions: imported after it, it also loads
# Powertools' parser models for every event source (about 30 ms), which no function of ours uses.
_MODEL = "class M(pydantic.BaseModel):\n    name: str = pydantic.Field(min_length=1)\n    n: int = 0\n"
FLOORS = {
    "ApiFunction": (
        "import boto3, pydantic\nfrom aws_lambda_powertools import Logger, Metrics\n"
        "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver\n" + _MODEL
        + "app = APIGatewayHttpResolver(enable_validation=True)\n"
        "@app.post('/m')\ndef create(m: M) -> M:\n    return m\n"
    ),
    "SubmitterFunction": (
        "import boto3\nfrom aws_lambda_powertools import Logger, Metrics\n"
        "from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType\nimport pydantic\n"
        + _MODEL + "p = BatchProcessor(event_type=EventType.SQS)\n"
    ),
    "ProcessorFunction": (
        "import boto3\nfrom aws_lambda_powertools import Logger, Metrics\n"
        "from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType\nimport pydantic\n"
        "from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function\n"
        + _MODEL + "p = BatchProcessor(event_type=EventType.SQS)\n"
    ),
    "ReconcilerFunction": (
        "import boto3, pydantic\nfrom aws_lambda_powertools import Logger, Metrics\n" + _MODEL
    ),
}  # fmt: skip
# The batch fan-out and the app webhooks' delivery are queue consumers like the submitter.
FLOORS["BatchFunction"] = FLOORS["AppWebhookFunction"] = FLOORS["SubmitterFunction"]
# Packages worth naming in the import table: what a function pays for at init.
HEAVY = (
    "pydantic",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parameters",
    "aws_xray_sdk",
    "httpx",
    "PIL",
)
# The variables Lambda itself sets before the init phase (the template's come on top).
LAMBDA_ENV = {
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    # The execution role's credentials (placeholders: nothing is sent); without them building a
    # boto3 client would look for credentials on the instance metadata endpoint.
    "AWS_ACCESS_KEY_ID": "ASIAPLACEHOLDER",
    "AWS_SECRET_ACCESS_KEY": "placeholder",
    "AWS_SESSION_TOKEN": "placeholder",
}
PROBE = """\
import sys, time
sys.path[:0] = {paths!r}
{setup}
started = time.perf_counter()
{statement}
elapsed = time.perf_counter() - started
import json
print(json.dumps({{"seconds": elapsed, "modules": len(sys.modules),
                  "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


# The first event's build: the handler registers its prime with a stand-in for the runtime's
# snapshot_restore_py, and the hooks run as Lambda runs them before a snapshot (reverse order).
PRIME_SETUP = """\
import types
hooks = types.ModuleType("snapshot_restore_py")
before = []
hooks.register_before_snapshot, hooks.register_after_restore = before.append, lambda hook: None
sys.modules["snapshot_restore_py"] = hooks
import {module}
"""
PRIME = "for hook in reversed(before):\n    hook()"
# What our code builds, counted (exact where the timings are noisy): the modules of the layer's
# gencore and of the function's CodeUri, and the pydantic models and dataclasses they create. Hooks
# wrap pydantic's metaclass and dataclasses' class processing; nothing here is timed.
COUNT = """\
import sys, json, dataclasses
sys.path[:0] = {paths!r}
import pydantic._internal._model_construction as construction
made = []
_new = construction.ModelMetaclass.__new__
def _counted(mcs, name, bases, namespace, *args, **kwargs):
    made.append(("model", namespace.get("__module__", "")))
    return _new(mcs, name, bases, namespace, *args, **kwargs)
construction.ModelMetaclass.__new__ = _counted
_process = dataclasses._process_class
def _counted_dataclass(cls, *args, **kwargs):
    made.append(("dataclass", cls.__module__))
    return _process(cls, *args, **kwargs)
dataclasses._process_class = _counted_dataclass
{setup}
{statement}
roots = {roots!r}
ours = {{name for name, m in list(sys.modules.items())
         if (getattr(m, "__file__", None) or "").startswith(tuple(roots))}}
print(json.dumps({{"modules": len(ours),
                  "models": sum(1 for k, m in made if k == "model" and m in ours),
                  "dataclasses": sum(1 for k, m in made if k == "dataclass" and m in ours)}}))
"""


@dataclass(frozen=True)
class Target:
    name: str
    statement: str
    paths: tuple[str, ...]
    env: dict[str, str]
    setup: str = ""
    roots: tuple[str, ...] = ()  # where our code lives (counted), for a function's targets


# ----- the file system Lambda would see --------------------------------------------------------


def closure(requirements: list[str]) -> list[metadata.Distribution]:
    """The installed distributions `pip install` of these requirements would put in a target dir."""
    wanted: dict[str, set[str]] = {}
    found: dict[str, metadata.Distribution] = {}
    stack = [Requirement(r) for r in requirements]
    while stack:
        requirement = stack.pop()
        key = re.sub(r"[-_.]+", "-", requirement.name).lower()
        extras = set(requirement.extras)
        if key in found and extras <= wanted[key]:
            continue
        wanted.setdefault(key, set()).update(extras)
        found[key] = metadata.distribution(requirement.name)
        for spec in found[key].requires or ():
            dependency = Requirement(spec)
            environments = [{"extra": e} for e in sorted(wanted[key])] or [{"extra": ""}]
            if dependency.marker is None or any(dependency.marker.evaluate(e) for e in environments):
                stack.append(dependency)
    return [found[k] for k in sorted(found)]


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def _site_files(dist: metadata.Distribution):
    for file in dist.files or ():
        if file.parts[0] != ".." and "__pycache__" not in file.parts:
            yield file, Path(dist.locate_file(file))


def lay_out_layer(dest: Path) -> list[str]:
    """The layer's files without bytecode, as SAM's python builder makes them; its distributions."""
    python = dest / "python"
    dists = closure(requirement_lines(LAYER / "requirements.txt"))
    for dist in dists:
        for file, source in _site_files(dist):
            target = python / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(LAYER / "gencore", python / "gencore", ignore=ignore)
    return [f"{d.name} {d.version}" for d in dists]


def lay_out_runtime(dest: Path) -> None:
    """boto3 as the Lambda runtime ships it (compiled): links to the installed packages."""
    dest.mkdir(parents=True)
    for dist in closure(["boto3"]):
        tops = {file.parts[0] for file, _ in _site_files(dist)}
        for top in tops:
            link = dest / top
            if not link.exists():
                link.symlink_to(Path(dist.locate_file(top)))
        for file in dist.files or ():  # single-module distributions (six) keep their bytecode here
            if file.parts[0] == "__pycache__":
                (dest / "__pycache__").mkdir(exist_ok=True)
                link = dest / file
                if not link.exists():
                    link.symlink_to(Path(dist.locate_file(file)))


def snapstart_functions(template: Template) -> list[str]:
    """The functions whose published versions are restored from a snapshot (SnapStart)."""
    return [
        logical
        for logical in template.functions()
        if template.function_properties(logical).get("SnapStart", {}).get("ApplyOn") == "PublishedVersions"
    ]


def layer_build_method(template: Template) -> str:
    return template.resources["CoreLayer"].get("Metadata", {}).get("BuildMethod", "")


def compile_layer(python: Path, build_method: str) -> str:
    """Bytecode as the layer's build makes it (its Makefile's `bytecode` step); how it was made."""
    if build_method == "makefile":
        command = ["make", "-s", "-f", str(LAYER / "Makefile"), "bytecode",
                   f"PACKAGES={python}", f"PYTHON={sys.executable}"]  # fmt: skip
        subprocess.run(command, check=True, cwd=LAYER)  # noqa: S603 (our own Makefile)
        return "layers/core/Makefile bytecode"
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(python)], check=True)  # noqa: S603
    return "compileall (as a virtual environment)"


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def zipped_bytes(root: Path, *, skip_caches: bool = False) -> int:
    """The size of `root` zipped; `skip_caches` leaves out __pycache__ (a CodeUri as `sam build` zips it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(root.rglob("*")):
            if file.is_file() and not (skip_caches and "__pycache__" in file.parts):
                archive.write(file, file.relative_to(root))
    return len(buffer.getvalue())


# ----- sampling ---------------------------------------------------------------------------------


def lambda_env(spec, task: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "SYSTEMROOT")}
    module = spec.handler.rpartition(".")[0]
    return env | LAMBDA_ENV | spec.environment | {
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0000",
        "LAMBDA_TASK_ROOT": str(task),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": spec.handler,
        "AWS_LAMBDA_FUNCTION_ARN": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{spec.name}",
        "_MODULE": module,
    }  # fmt: skip


def _run(target: Target, code: str, what: str) -> dict:
    """Run a probe in a fresh interpreter with the target's environment; the JSON its last line prints."""
    done = subprocess.run(  # noqa: S603 (this interpreter, our own probe)
        [sys.executable, "-I", "-S", "-B", "-c", code],
        env=target.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{target.name}: the {what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def sample(target: Target) -> dict:
    code = PROBE.format(paths=list(target.paths), setup=target.setup, statement=target.statement, heavy=HEAVY)
    return _run(target, code, "import")


def count(target: Target) -> dict[str, int]:
    """Our modules loaded, and our pydantic models and dataclasses created, once `target` ran."""
    code = COUNT.format(paths=list(target.paths), setup=target.setup, statement=target.statement,
                        roots=list(target.roots))  # fmt: skip
    return _run(target, code, "count")


def build_targets(work: Path, template: Template, layer: Path, baseline_layer: Path, source_layer: Path):
    runtime = work / "runtime"
    targets = []
    specs = template.functions()
    for logical, spec in specs.items():
        task = work / "task" / logical
        shutil.copytree(spec.code_uri, task, ignore=shutil.ignore_patterns("__pycache__"))
        env = lambda_env(spec, task)
        module = env.pop("_MODULE")
        paths = (str(task), str(layer / "python"), str(runtime))
        roots = (f"{task}/", f"{layer / 'python' / 'gencore'}/")
        targets.append(Target(logical, f"import {module}", paths, env, roots=roots))
        if logical in FLOORS:
            empty = work / "task" / "empty"
            empty.mkdir(parents=True, exist_ok=True)
            floor_paths = (str(empty), str(baseline_layer / "python"), str(runtime))
            targets.append(Target(f"floor {logical}", FLOORS[logical], floor_paths, env))
        if logical in snapstart_functions(template):
            setup = PRIME_SETUP.format(module=module)
            targets.append(Target(f"prime {logical}", PRIME, paths, env, setup, roots))
        if logical == "ApiFunction":
            source_paths = (str(task), str(source_layer / "python"), str(runtime))
            unbuilt = f"{logical} (layer without bytecode)"
            targets.append(Target(unbuilt, f"import {module}", source_paths, env))
    webhook = next(t for t in targets if t.name == "WebhookFunction")
    empty = work / "task" / "empty"
    empty.mkdir(parents=True, exist_ok=True)
    baseline_paths = (str(empty), str(baseline_layer / "python"), str(runtime))
    targets.insert(0, Target("baseline", BASELINE, baseline_paths, webhook.env))
    return targets


def measure(targets: list[Target], samples: int, seed: int) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    results: dict[str, list[dict]] = {t.name: [] for t in targets}
    for round_ in range(samples):
        order = list(targets)
        rng.shuffle(order)
        for target in order:
            results[target.name].append(sample(target))
        print(f"  round {round_ + 1}/{samples}", file=sys.stderr, flush=True)
    return results


def short(name: str) -> str:
    return name.replace("Function", "").lower()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=11, help="fresh interpreters per target (>= 7)")
    parser.add_argument("--seed", type=int, default=10, help="seed of the sampling order")
    parser.add_argument("--keep", action="store_true", help="keep the built file system (printed)")
    parser.add_argument("--results", default=None, help="directory for the JSON (default bench/results)")
    args = parser.parse_args()

    template = Template(ROOT / "template.yaml")
    build_method = layer_build_method(template)
    work = Path(tempfile.mkdtemp(prefix="cold-start-"))
    try:
        print(f"building the Lambda file system under {work}", file=sys.stderr, flush=True)
        source_layer = work / "opt-source"
        dists = lay_out_layer(source_layer)
        lay_out_runtime(work / "runtime")
        layer = work / "opt"
        shutil.copytree(source_layer, layer)
        compiled_by = compile_layer(layer / "python", build_method)
        baseline_layer = layer
        if build_method != "makefile":  # the layer as deployed has no bytecode; the baseline does
            layer = source_layer
        targets = build_targets(work, template, layer, baseline_layer, source_layer)
        results = measure(targets, args.samples, args.seed)
        counts = {t.name: count(t) for t in targets if t.roots}
        report = build_report(args, template, build_method, compiled_by, dists, results, baseline_layer)
        add_counts(report, template, counts)
        report.finish(args.results)
    finally:
        if args.keep:
            print(f"kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def add_counts(report: Report, template: Template, counts: dict[str, dict[str, int]]) -> None:
    """What our code builds at init, and with the first event's build, per function: exact counts."""
    for logical in template.functions():
        name = short(logical)
        for label, key in (("at init", logical), ("init + first event's build", f"prime {logical}")):
            if key in counts:
                c = counts[key]
                value = f"{c['modules']} / {c['models']} / {c['dataclasses']}"
                note = "gencore and CodeUri modules loaded; pydantic models and dataclasses built"
                report.add(f"our code {label}: {name}", value, "modules / models / dataclasses", note=note)
    report.raw["our_code_counts"] = counts


def build_report(args, template, build_method, compiled_by, dists, results, layer: Path) -> Report:
    seconds = {name: [s["seconds"] for s in runs] for name, runs in results.items()}
    base = median(seconds["baseline"])
    report = Report(
        "cold_start",
        parameters={"samples": args.samples, "seed": args.seed,
                    "layer_build_method": build_method or "python3.13",
                    "layer_bytecode": compiled_by if build_method == "makefile" else "none"},
    )  # fmt: skip
    report.add("baseline: import boto3, aws_lambda_powertools", round(base * 1000, 1), "ms")
    specs = template.functions()
    for logical in specs:
        name = short(logical)
        value = ratio(median(seconds[logical]), base)
        heavy = results[logical][-1]["heavy"]
        loads = ", ".join(h.replace("aws_lambda_powertools.", "pt.") for h in heavy) or "none of the heavy"
        note = f"{median(seconds[logical]) * 1000:.0f} ms; loads {loads}"
        report.add(f"cold import {name} / baseline", value, "x", TARGETS.get(logical, "<= 1.5"), note)
        floor = f"floor {logical}"
        if floor in seconds:
            ms = median(seconds[floor]) * 1000
            floor_ratio = ratio(median(seconds[floor]), base)
            report.add(f"floor {name} (mandated imports) / baseline", floor_ratio, "x", note=f"{ms:.0f} ms")
            own = median(seconds[logical]) * 1000 - ms
            to_floor = ratio(median(seconds[logical]), median(seconds[floor]))
            report.add(f"cold import {name} / its floor", to_floor, "x",
                       note=f"our code adds {own:+.0f} ms to the mandated imports")  # fmt: skip
        prime = f"prime {logical}"
        if prime in seconds:
            built = "use cases, boto3 clients" + (", route validation" if logical == "ApiFunction" else "")
            report.add(f"first event's build {name} (SnapStart: in the snapshot)",
                       round(median(seconds[prime]) * 1000, 1), "ms",
                       note=f"{built}; without SnapStart the first event pays it")  # fmt: skip
    with_snapstart = [short(logical) for logical in snapstart_functions(template)]
    without = ", ".join(short(logical) for logical in specs if short(logical) not in with_snapstart)
    report.add("SnapStart (published versions, alias live)", ", ".join(with_snapstart) or "none",
               note=f"template.yaml; not on {without}" if without else "template.yaml")  # fmt: skip
    source = "ApiFunction (layer without bytecode)"
    unbuilt_ms = median(seconds[source]) * 1000
    report.add("api on a layer without bytecode / baseline", ratio(median(seconds[source]), base), "x",
               note=f"{unbuilt_ms:.0f} ms: what compiling the layer at build saves")  # fmt: skip
    for logical, spec in specs.items():
        package_kib = round(zipped_bytes(spec.code_uri, skip_caches=True) / 1024, 1)
        report.add(f"package {short(logical)} (zip)", package_kib, "KiB")
    layer_zip = round(zipped_bytes(layer) / 2**20, 1)
    report.add("layer (zip)", layer_zip, "MiB", note=f"{len(dists)} distributions")
    report.add("layer (unzipped)", round(tree_bytes(layer) / 2**20, 1), "MiB", "<= 250",
               note="Lambda's limit for a function and its layers, unzipped")  # fmt: skip
    report.raw = {
        "seconds": seconds,
        "paired_ratios": {
            name: statistics.median(s / b for s, b in zip(values, seconds["baseline"], strict=True))
            for name, values in seconds.items()
        },
        "heavy_imports": {name: runs[-1]["heavy"] for name, runs in results.items()},
        "modules_loaded": {name: runs[-1]["modules"] for name, runs in results.items()},
        "layer_distributions": dists,
    }
    return report


if __name__ == "__main__":
    main()
