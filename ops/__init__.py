"""On-call operations CLI: inspect and redrive dead-letter queues, show and reconcile one job.

Run from the repository root as ``python -m ops <command>`` (``python -m ops --help``). It talks to
the deployed stack (names from CloudFormation, ``--stack-name``) or to the local stack (``--local``).
The on-call procedures that use it are in docs/runbook.md.
"""
