"""Lifeline hub: receive alerts over MQTT, store each once, fuse them into incidents for operators.

Data flow, one module per step: ``config`` (hub.toml) -> ``service`` (MQTT in,
acks out) -> ``fusion`` (pure rule) -> ``store`` (SQLite, events feed) ->
``cli`` (``run``, ``incidents``, ``tail``; rendering in ``render``).
"""
