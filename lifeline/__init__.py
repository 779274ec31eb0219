"""Code shared by the edge agent and the hub: the wire contract, grades and config errors."""
