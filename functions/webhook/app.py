"""Placeholder until the pipeline lands."""


def lambda_handler(event, context):
    raise NotImplementedError
