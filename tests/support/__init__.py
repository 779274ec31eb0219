"""Helpers for tests that run real parts: a Mosquitto broker, pseudo-terminals, our CLIs."""
