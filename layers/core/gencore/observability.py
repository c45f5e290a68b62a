"""Powertools Logger, Metrics and Tracer, one instance each, shared by every handler.

Configuration comes from the POWERTOOLS_* variables the template sets; locally the runner sets
POWERTOOLS_TRACE_DISABLED so the same code runs offline.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(log_uncaught_exceptions=True)
metrics = Metrics()
tracer = Tracer()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
