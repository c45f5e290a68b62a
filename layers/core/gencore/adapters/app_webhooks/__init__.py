"""Outbound webhooks' adapters, by concern: `items` (their items in the jobs table: keys and
layout), `store` (the DynamoDB store), `queue` (the SQS delivery queue), `signing_keys` (each
endpoint's secret from Secrets Manager, cached) and `http_sender` (the POST, with the SSRF checks at
delivery). Import from those modules: this package re-exports nothing."""
