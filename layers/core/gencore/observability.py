"""Powertools Logger, Metrics and Tracer, one instance each, shared by every handler.

Configuration comes from the POWERTOOLS_* variables the template sets; locally the runner sets
POWERTOOLS_TRACE_DISABLED so the same code runs offline. The domain and adapters log through the
standard `logging` module under "gencore"; that logger gets the Powertools JSON formatter too, so
every line carries the same keys (job id, generation id, request id).
"""

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(log_uncaught_exceptions=True)
metrics = Metrics()
tracer = Tracer()

logging.getLogger("gencore")  # registered, so the copy below reaches it and its children
copy_config_to_registered_loggers(source_logger=logger, include={"gencore"})

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
