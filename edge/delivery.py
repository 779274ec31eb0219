"""Deliver outbox alerts to the hub: in order, a bounded window in flight, resent until acked.

At most ``window`` alerts are awaiting the hub's ack at any time, so an edge
replaying a long outage cannot overflow the broker's queue for the hub (which
would drop QoS 1 messages). An alert not acked within ``ack_timeout_s`` is
published again; the hub stores each id once, so a resend is harmless. After
a reconnect everything unacked is replayed from the oldest.

An ack is believed only for ids this agent sent and that are still outstanding
(issue 13): anything else on the ack topic -- an id never sent, one not in the
outbox -- is ignored, counted as ``unexpected_acks`` and logged (a few lines a
minute). Only the hub may publish on a device's ack topic: that is the broker's
ACL (hardware/mosquitto/acl), which docs/security.md says is required; an ack
carries no proof of its own. Ids acked again (the hub acks a resend it already
had) are ``duplicate_acks``, expected and quiet.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable

from edge.outbox import Outbox
from lifeline.logbudget import LogBudget

log = logging.getLogger(__name__)

RECENT_ACKS = 10_000  # ids acked lately, so a second ack of one is a duplicate, not a stranger


class Delivery:
    def __init__(self, outbox: Outbox, send: Callable[[bytes], bool], window: int = 200,
                 ack_timeout_s: float = 30.0) -> None:
        self.outbox = outbox
        self.send = send
        self.window = window
        self.ack_timeout_s = ack_timeout_s
        self.inflight: dict[str, tuple[int, float]] = {}
        self.high_seq = 0
        self.counters = {"sent": 0, "resent": 0, "acked": 0, "unexpected_acks": 0,
                         "duplicate_acks": 0}
        self.sent: set[str] = set()  # ids published by this agent and not acked yet
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._budget = LogBudget(per_window=5, window_s=60.0)
        self._now = 0.0  # the time of the last pump, for the log budget

    def reset(self) -> None:
        """Forget what is in flight (the link went down): replay from the oldest unacked alert.

        What was sent stays outstanding: the hub may still ack it."""
        self.inflight.clear()
        self.high_seq = 0

    def pump(self, now: float) -> int:
        """Send what the window allows; return how many messages were published."""
        self._now = now
        published = 0
        for alert_id, (seq, sent_at) in list(self.inflight.items()):
            if now - sent_at >= self.ack_timeout_s:
                rows = [p for p in self.outbox.pending(1, after_seq=seq - 1) if p.id == alert_id]
                if not rows:  # acked or dropped meanwhile
                    del self.inflight[alert_id]
                    self.sent.discard(alert_id)
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
            self.sent.add(pending.id)
            self.high_seq = pending.seq
            self.counters["sent"] += 1
            published += 1
        if len(self.sent) > self.outbox.depth + self.window:
            self.sent = self.outbox.present(self.sent)  # ids the outbox dropped for space
        return published

    def acknowledged(self, ids: Iterable[str]) -> None:
        """The hub's word for ``ids``: forget those this agent sent and still holds."""
        id_list = list(ids)
        mine = [i for i in id_list if i in self.sent]
        if mine:
            self.counters["acked"] += self.outbox.acknowledge(mine)
        for alert_id in mine:
            self.inflight.pop(alert_id, None)
            self.sent.discard(alert_id)
            self._recent[alert_id] = None
        while len(self._recent) > RECENT_ACKS:
            self._recent.popitem(last=False)
        strangers = [i for i in id_list if i not in self.sent and i not in self._recent]
        self.counters["duplicate_acks"] += len(id_list) - len(mine) - len(strangers)
        if not strangers:
            return
        self.counters["unexpected_acks"] += len(strangers)
        left_out = self._budget.take("unexpected", self._now)
        if left_out is not None:
            log.warning("ignored an ack of %d alert id(s) this agent has not sent or does not "
                        "hold (e.g. %s; %d in all%s): only the hub may ack, check the broker's "
                        "ACL", len(strangers), ", ".join(strangers[:3]),
                        self.counters["unexpected_acks"],
                        f"; {left_out} such ack(s) not logged before this one" if left_out
                        else "")
