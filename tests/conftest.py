"""Process-wide test environment, set before any handler module is imported.

Powertools reads these when its Logger/Metrics/Tracer objects are built (at import), so they must be
in place first; on Lambda the template sets the same variables.
"""

import os

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "leonardo-backend")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "LeonardoBackendTest")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
