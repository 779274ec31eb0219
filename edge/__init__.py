"""Lifeline edge agent: read sensors, detect anomalies online, publish alerts over MQTT."""
