"""Lifeline hub: receive alerts over MQTT, store each once, fuse them into incidents for operators.

Data flow, one folder per step: ``config`` (hub.toml) -> ``service`` (MQTT in, ingest,
acks out, routing, webhooks) -> ``core`` (the pure rules: fusion, grading, lifecycle,
silences, routes) -> ``store`` (SQLite, the only place that runs SQL; the events feed) ->
``desk`` (``incidents``, ``tail``, ``silence``, ``status``, provisioning); ``cli`` dispatches.
"""
