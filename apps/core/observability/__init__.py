"""Observability: request ids and structured logs, Prometheus metrics kept in Redis, Sentry.

- context.py: what the current request or task is (request id, tenant, user), in a contextvar
  that every log line reads.
- logging.py: the JSON formatter and the logging filter that adds that context.
- middleware.py: the request id, one access-log line and the request metrics per request.
- metrics.py: counters and histograms shared by every process through Redis, rendered at
  /metrics (views.py) with the queue depths and organisation counts read at scrape time.
- worker.py: the same context and task metrics in Celery workers (signals).
- sentry.py: optional error reporting (SENTRY_DSN).
"""
