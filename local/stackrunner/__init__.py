"""The embedded local runner: serves the SAM app in template.yaml on loopback, no Docker, no AWS.

from stackrunner import LocalStack, StackConfig
with LocalStack(StackConfig(api_port=0, aws_port=0, simulator_port=0)) as stack:
    ...  # stack.api_url, stack.aws_endpoint, stack.token("alice")
"""

from stackrunner.stack import LocalStack, StackConfig, free_port

__all__ = ["LocalStack", "StackConfig", "free_port"]
