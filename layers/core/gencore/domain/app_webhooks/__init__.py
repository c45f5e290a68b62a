"""Outbound webhooks to apps, after the Standard Webhooks specification (docs/webhooks.md).

An operator registers an app's endpoint (URL, event types, a secret we generate). Each completion
event published on the bus is stored once and fanned out to the subscribed endpoints; each delivery
is signed (`webhook-id` = the event id, stable across retries and replays; `webhook-timestamp`;
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per active secret),
POSTed once per attempt, and retried on a schedule spanning days. An endpoint failing for too long,
or answering 410 Gone, is disabled.

Exactly one chain of attempts runs per (event, endpoint, round): an attempt is claimed with a
conditional write on the delivery's attempt counter, so a repeated or stale queue message is
dropped, and a crashed attempt is taken over once its lease has run out. A replay starts a new
round. Delivery is at least once: receivers drop repeats by `webhook-id`.

Its modules, by concern: `signing` (secrets and signatures), `urls` (where we may send: the SSRF
rules), `retry_policy` (the retry schedule and when an endpoint is given up on), `records`
(endpoints, events, deliveries, queue messages), `ports` (what the use case needs from outside),
`bus_events` (the body delivered for a bus event) and `delivery` (the use case: fan-out, replay,
one attempt). Import from those modules: this package re-exports nothing.
"""
