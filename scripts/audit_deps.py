"""Known vulnerabilities and yanked releases among the locked pins (`make audit`, part of `make lint`).

Why not pip-audit: its PyPI service asks `/pypi/<name>/<version>/json`, which the registry reachable
from our machines and CI answers 404 for every release, so pip-audit reports each package as "not
found on PyPI" and still exits 0; its OSV service (api.osv.dev) is not reachable at all. What is
answered is the project document, `/pypi/<name>/json`: its `vulnerabilities` are the advisories on
the project's latest release, and its `releases` say which files are yanked.

So a pin fails when:
- its release is yanked, or
- an advisory (not withdrawn) is open on the latest release and the pin is not newer than it: the
  latest release is affected, so ours almost surely is too.

The limit, printed with the result: an advisory fixed in a release after our pin, and so absent from
the latest release, is invisible here. Pins behind their latest release are counted for that reason;
`make lock UPGRADE=1` moves them. Where api.osv.dev is reachable, the exact per-version answer is
`pip-audit --disable-pip --require-hashes --vulnerability-service osv -r <lock>` for each lock.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

PYPI = "https://pypi.org/pypi/{name}/json"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")

# Advisories accepted after review: id -> why (the package, and why it does not reach us).
IGNORED: dict[str, str] = {
    "CVE-2024-23342": (
        "ecdsa, Minerva timing side channel when signing; no fixed release exists (its maintainers "
        "leave side channels out of scope). Only in requirements-checkov.lock (checkov depends on it), "
        "a lint tool that signs nothing; neither the layer nor the project's environment has ecdsa."
    ),
}


@dataclass
class Pin:
    name: str
    version: str
    locks: set[str] = field(default_factory=set)


@dataclass
class Finding:
    pin: Pin
    problem: str


def read_pins(locks: Iterable[Path]) -> list[Pin]:
    pins: dict[tuple[str, str], Pin] = {}
    for lock in locks:
        for line in lock.read_text().splitlines():
            match = PIN.match(line)
            if match:
                key = (canonicalize_name(match[1]), match[2])
                pins.setdefault(key, Pin(*key)).locks.add(str(lock))
    return sorted(pins.values(), key=lambda p: (p.name, p.version))


def fetch(name: str, attempts: int = 3) -> dict:
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(PYPI.format(name=name), timeout=30) as response:  # noqa: S310
                return json.load(response)
        except (urllib.error.URLError, TimeoutError):
            if attempt == attempts - 1:
                raise
            time.sleep(1 + attempt)
    raise AssertionError("unreachable")


def audit(pin: Pin, project: dict) -> tuple[list[Finding], bool]:
    """The pin's findings, and whether it is behind the latest release."""
    findings: list[Finding] = []
    seen: set[frozenset[str]] = set()  # PyPI lists one advisory once per database that has it
    files = project.get("releases", {}).get(pin.version, [])
    if files and all(f.get("yanked") for f in files):
        reason = files[0].get("yanked_reason") or "no reason given"
        findings.append(Finding(pin, f"release {pin.version} is yanked ({reason})"))
    latest = project["info"]["version"]
    try:
        pinned, newest = Version(pin.version), Version(latest)
    except InvalidVersion:
        return findings, False
    for vuln in project.get("vulnerabilities") or []:
        ids = [vuln.get("id", "?"), *(vuln.get("aliases") or [])]
        if vuln.get("withdrawn") or any(i in IGNORED for i in ids) or pinned > newest:
            continue
        if frozenset(ids) in seen:
            continue
        seen.add(frozenset(ids))
        fixed = ", ".join(vuln.get("fixed_in") or []) or "no fixed release yet"
        findings.append(Finding(pin, f"{' / '.join(ids)} on the latest release {latest} (fixed in: {fixed})"))
    return findings, pinned < newest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("locks", nargs="+", type=Path, help="lock files (name==version lines)")
    args = parser.parse_args(argv)
    pins = read_pins(args.locks)
    names = sorted({p.name for p in pins})
    with ThreadPoolExecutor(max_workers=16) as pool:
        try:
            projects = dict(zip(names, pool.map(fetch, names), strict=True))
        except (urllib.error.URLError, TimeoutError) as error:
            # Fail closed: an audit that could not ask has not passed.
            print(f"audit: PyPI could not be asked ({error})", file=sys.stderr)
            return 2
    findings: list[Finding] = []
    behind = 0
    for pin in pins:
        pin_findings, is_behind = audit(pin, projects[pin.name])
        findings += pin_findings
        behind += is_behind
    for finding in findings:
        locks = ", ".join(sorted(finding.pin.locks))
        print(f"{finding.pin.name}=={finding.pin.version}: {finding.problem} [{locks}]")
    print(
        f"audit: {len(pins)} pins in {len(args.locks)} locks, {len(findings)} findings; "
        f"{behind} pins are behind their latest release (advisories fixed since then are not visible "
        "through PyPI's project document: see scripts/audit_deps.py)"
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
