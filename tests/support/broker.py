"""Tests use the same private-broker launcher as the demo and the benchmarks."""

from lifeline.localbroker import Broker, find_mosquitto, free_port

__all__ = ["Broker", "find_mosquitto", "free_port"]
