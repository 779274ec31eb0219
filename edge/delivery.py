"""Deliver outbox alerts to the hub: in order, a bounded window in flight, resent until acked.

At most ``window`` alerts are awaiting the hub's ack at any time, so an edge
replaying a long outage cannot overflow the broker's queue for the hub (which
would drop QoS 1 messages). An alert not acked within ``ack_timeout_s`` is
published again; the hub stores each id once, so a resend is harmless. After
a reconnect everything unacked is replayed from the oldest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from edge.outbox import Outbox


class Delivery:
    def __init__(self, outbox: Outbox, send: Callable[[bytes], bool], window: int = 200,
                 ack_timeout_s: float = 30.0) -> None:
        self.outbox = outbox
        self.send = send
        self.window = window
        self.ack_timeout_s = ack_timeout_s
        self.inflight: dict[str, tuple[int, float]] = {}
        self.high_seq = 0
        self.counters = {"sent": 0, "resent": 0, "acked": 0}

    def reset(self) -> None:
        """Forget what is in flight (the link went down): replay from the oldest unacked alert."""
        self.inflight.clear()
        self.high_seq = 0

    def pump(self, now: float) -> int:
        """Send what the window allows; return how many messages were published."""
        published = 0
        for alert_id, (seq, sent_at) in list(self.inflight.items()):
            if now - sent_at >= self.ack_timeout_s:
                rows = [p for p in self.outbox.pending(1, after_seq=seq - 1) if p.id == alert_id]
                if not rows:  # acked or dropped meanwhile
                    del self.inflight[alert_id]
                    continue
                if not self.send(rows[0].payload):
                    return published
                self.inflight[alert_id] = (seq, now)
                self.counters["resent"] += 1
                published += 1
        room = self.window - len(self.inflight)
        if room <= 0:
            return published
        for pending in self.outbox.pending(room, after_seq=self.high_seq):
            if not self.send(pending.payload):
                break
            self.inflight[pending.id] = (pending.seq, now)
            self.high_seq = pending.seq
            self.counters["sent"] += 1
            published += 1
        return published

    def acknowledged(self, ids: Iterable[str]) -> None:
        id_list = list(ids)
        self.counters["acked"] += self.outbox.acknowledge(id_list)
        for alert_id in id_list:
            self.inflight.pop(alert_id, None)
