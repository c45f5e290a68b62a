"""Lambda SnapStart: what a function builds before its snapshot, and what is made fresh after a restore.

With SnapStart (template.yaml: the API, the submitter and the processor) Lambda runs a version's init
phase once, when the version is published, snapshots the microVM and resumes every new execution
environment of that version from the snapshot. Whatever init left in memory is then shared by all of
them, and it is as old as the snapshot. So, after each restore (`after_restore`):

- the module-level `random` generator is reseeded from os.urandom: botocore draws its retry jitter
  from it, and environments restored from one snapshot would otherwise back off in step. Our own
  jitter (Policy, the DynamoDB Writer, the Leonardo client's Retrier) uses random.SystemRandom, which
  has no state to share; job seeds come from `secrets`;
- cached secrets are dropped (Powertools' parameter cache): nothing fetched before the snapshot is
  served after it;
- the account breaker's and the platform-model list's memos are dropped (the latter is timed with
  time.monotonic, which a restore does not move on);
- a Leonardo client built before the snapshot is closed and dropped: its pooled HTTP connections are
  not the restored microVM's, and it holds the API key. The next call builds one, key read afresh.

boto3's clients are kept: connections the AWS SDK opened resume on their own, and Lambda hands
SnapStart functions refreshable container credentials instead of access keys in the environment.

Before the snapshot, `install(prime=...)` builds what the function's events use (the use cases and
their boto3 clients; nothing is sent), so a restored environment's first event does not pay for it.

The hooks come from `snapshot_restore_py`, which Lambda's Python runtimes ship; elsewhere (tests, the
local stack) `install` registers nothing. docs/performance.md (SnapStart) says why and with what sources.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from types import ModuleType


def install(*, prime: Callable[[], object] | None = None) -> bool:
    """Register the hooks where the runtime offers them; False (nothing registered) elsewhere."""
    try:
        # Only the Lambda runtime ships it (no package, no stubs)
        from snapshot_restore_py import register_after_restore, register_before_snapshot  # type: ignore[import-not-found]
    except ImportError:  # not on Lambda: tests, the local stack, the benches
        return False
    if prime is not None:
        register_before_snapshot(prime)
    register_after_restore(after_restore)
    return True


def after_restore() -> None:
    """Make fresh, in this environment, what the snapshot holds for every environment alike."""
    random.seed()  # from os.urandom
    _forget_secrets()
    wiring = sys.modules.get("gencore.wiring")  # the webhook never loads it
    if wiring is not None:
        _forget_built(wiring)


def _forget_secrets() -> None:
    if "gencore.adapters.secrets" not in sys.modules:
        return  # no secret was read, so none is cached
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]  # powertools leaves it unannotated


def _forget_built(wiring: ModuleType) -> None:
    """Reset, in place, what the factories built: use cases keep their references to these objects."""
    if wiring.account_guard.cache_info().currsize:
        wiring.account_guard().forget()
    if wiring.platform_models.cache_info().currsize:
        wiring.platform_models().forget()
    if wiring.leonardo.cache_info().currsize:
        wiring.leonardo().forget_client()
