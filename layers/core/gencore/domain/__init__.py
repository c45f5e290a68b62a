"""The domain ring: models, the job state machine and policies. No boto3, no httpx, no os.environ."""
