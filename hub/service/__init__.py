"""The running hub: MQTT in and acks out (``run``), ingest into the store, routing and webhooks."""
