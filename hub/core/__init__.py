"""The hub's pure core: incidents, fusion and grading rules, lifecycle, topology, silencing rules.

No sqlite3, no paho, no clock reads (time is an argument): the store and the service
call into these modules, never the other way round.
"""
