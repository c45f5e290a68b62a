"""Powertools Logger and Metrics, one instance each, shared by every handler.

Configuration comes from the POWERTOOLS_* variables the template sets.

Tracing needs no code here: the functions run with X-Ray active tracing, so Lambda records each
invocation's segment (init, invocation, overhead) itself, and the Logger puts the trace id on
every line. Powertools' Tracer is left out because it imports the X-Ray SDK at every cold start,
which alone cost about as much as boto3 and Powertools together (docs/performance.md, cold
starts); what it added were subsegments per AWS call and the handler's annotations.

The domain and adapters log through the standard `logging` module under "gencore"; that logger
gets the Powertools JSON formatter too, so every line carries the same keys (job id, generation
id, request id).
"""

import logging

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(log_uncaught_exceptions=True)
metrics = Metrics()

logging.getLogger("gencore")  # registered, so the copy below reaches it and its children
copy_config_to_registered_loggers(source_logger=logger, include={"gencore"})

__all__ = ["MetricUnit", "logger", "metrics"]
