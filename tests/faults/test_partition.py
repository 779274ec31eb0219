"""A 60 s network partition between the edge and the broker.

The edge runs in its own network namespace (``ip netns``), joined to the host by a
veth pair in 10.213.0.0/30; the broker listens on the host end, the hub on
loopback. Cutting the host end of the pair drops every packet silently -- no
reset, no refusal -- as a field link that goes dark. Where namespaces cannot
be created the test says so and cuts a local TCP relay instead
(``LIFELINE_FAULTS_PARTITION=proxy`` forces that fallback, to exercise it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.faults import Netns, Rig, TcpProxy, netns_available

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITION_S = 60.0


@contextmanager
def partitioned_rig(tmp_path: Path) -> Iterator[tuple[Rig, Netns | TcpProxy, str]]:
    why_not = ("LIFELINE_FAULTS_PARTITION=proxy" if os.environ.get("LIFELINE_FAULTS_PARTITION")
               == "proxy" else netns_available())
    if why_not is None:
        with Netns(f"llf{os.getpid() % 100000}") as ns, \
                Rig(tmp_path, edge_host=ns.host_ip, edge_prefix=ns.prefix) as rig:
            yield rig, ns, "network namespace + veth pair, host end taken down"
        return
    print(f"network namespaces unavailable ({why_not}): falling back to a local TCP proxy")
    rig = Rig(tmp_path)
    proxy = TcpProxy(rig.broker.port)
    rig.edge_port = proxy.port
    try:
        with rig:
            yield rig, proxy, f"local TCP proxy stops relaying (namespaces unavailable: {why_not})"
    finally:
        proxy.close()


@pytest.mark.timeout_s(200)
def test_partition_edge_broker_60s(tmp_path: Path) -> None:
    with partitioned_rig(tmp_path) as (rig, link, how):
        rig.start_hub()
        rig.start_edge()
        rig.stream.start()
        rig.wait_stored(30, timeout=20)
        # When the edge's link goes dark for 60 s while its sensor keeps alerting
        link.cut()
        time.sleep(PARTITION_S)
        mark = rig.mark()
        link.heal()
        # Then after the link heals everything accepted reaches the store, once
        recovery = rig.recovery_s(mark, timeout=75)
        time.sleep(2)
        rig.settle(timeout=45)
        figures = rig.check("partition", f"edge-broker partition {PARTITION_S:.0f} s ({how})",
                            recovery)
    assert figures["accepted"] > PARTITION_S * 5  # the edge kept accepting while cut off
