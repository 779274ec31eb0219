"""How fast an alert reaches the board (issue 18): ``python benchmarks/bench_board.py [-n 40]``.

A private Mosquitto, ``lifeline-hub run`` and ``lifeline-hub board`` on one store, and, as
the baseline in the same run, ``lifeline-hub tail --json`` on the same store. Alerts are
published one at a time, each a new incident (its own zone); for each, the time from the
publish to its ``opened`` change on the board's Server-Sent Events stream, and to its line
on the tail. Prints the median and 95th percentile of both and their ratio, and the time
to the page's snapshot (``GET /api/board``) with that many incidents.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from lifeline import wire  # noqa: E402
from lifeline.grades import Grade  # noqa: E402
from lifeline.localbroker import Broker, stop_process  # noqa: E402

BIN = Path(sys.executable).parent


def alert(zone: str) -> wire.Alert:
    return wire.Alert(id=uuid.uuid4().hex, device=f"dev-{zone}", zone=zone, sensor="p",
                      channel="pressure_kpa", kind="water.pressure", ts=time.time(),
                      value=150.0, score=1.0, grade=Grade.ORANGE, reason=wire.Reason.LIMIT,
                      seq=1, unit="kPa", context=(300.0, 150.0))


def wait_text(path: Path, pattern: str, timeout: float = 20.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, path.read_text() if path.exists() else "")
        if found:
            return found
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {pattern!r} in {path}")


def follow_stream(port: int, seen: dict[str, float], stop: threading.Event) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET /events?last=0 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    sock.settimeout(0.5)
    buffer = ""
    while not stop.is_set():
        try:
            chunk = sock.recv(65536).decode()
        except TimeoutError:
            continue
        if not chunk:
            break
        buffer += chunk
        *frames, buffer = buffer.split("\n\n")
        now = time.monotonic()
        for frame in frames:
            if "event: change" in frame:
                data = json.loads(frame.split("data: ", 1)[1])
                if data["kind"] == "opened":
                    seen.setdefault(data["incident"]["zone"], now)
    sock.close()


def follow_tail(proc: subprocess.Popen[str], seen: dict[str, float]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        data = json.loads(line)
        if data["kind"] == "opened":
            seen.setdefault(data["incident"]["zone"], time.monotonic())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=40, help="alerts (incidents), one at a time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        broker = Broker(tmp / "broker")
        broker.start()
        config = tmp / "hub.toml"
        config.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n'
                          '[store]\npath = "hub.db"\n')
        logs = {name: open(tmp / f"{name}.log", "w") for name in ("hub", "board")}  # noqa: SIM115
        hub = subprocess.Popen([BIN / "lifeline-hub", "run", "--config", config],
                               stdout=logs["hub"], stderr=subprocess.STDOUT,
                               start_new_session=True)
        board = subprocess.Popen([BIN / "lifeline-hub", "board", "--config", config,
                                  "--listen", "127.0.0.1:0"], stdout=logs["board"],
                                 stderr=subprocess.STDOUT, start_new_session=True)
        tail = subprocess.Popen([BIN / "lifeline-hub", "tail", "--json", "--config", config],
                                stdout=subprocess.PIPE, text=True, start_new_session=True)
        stop = threading.Event()
        try:
            wait_text(tmp / "hub.log", "subscribed to")
            port = int(wait_text(tmp / "board.log", r"board: http://127.0.0.1:(\d+)/").group(1))
            on_board: dict[str, float] = {}
            on_tail: dict[str, float] = {}
            threading.Thread(target=follow_stream, args=(port, on_board, stop),
                             daemon=True).start()
            threading.Thread(target=follow_tail, args=(tail, on_tail), daemon=True).start()
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-board")
            client.connect("127.0.0.1", broker.port)
            client.loop_start()
            time.sleep(1.0)  # the stream and the tail are connected
            sent: dict[str, float] = {}
            for i in range(args.n):
                zone = f"z{i}"
                payload = wire.encode(alert(zone))
                sent[zone] = time.monotonic()
                client.publish(wire.alert_topic(f"dev-{zone}"), payload, qos=1)
                deadline = time.monotonic() + 10
                while (zone not in on_board or zone not in on_tail) and \
                        time.monotonic() < deadline:
                    time.sleep(0.001)
                time.sleep(0.05)
            client.loop_stop()
            board_ms = [1000 * (on_board[z] - t) for z, t in sent.items() if z in on_board]
            tail_ms = [1000 * (on_tail[z] - t) for z, t in sent.items() if z in on_tail]
            conn = http.client.HTTPConnection("127.0.0.1", port)
            started = time.perf_counter()
            conn.request("GET", "/api/board", headers={"Host": f"127.0.0.1:{port}"})
            snapshot = json.loads(conn.getresponse().read())
            snapshot_ms = 1000 * (time.perf_counter() - started)
        finally:
            stop.set()
            for proc in (tail, board, hub):
                stop_process(proc)  # type: ignore[arg-type]
            broker.stop()
    print(f"{args.n} alerts, each a new incident, published one at a time")
    print(f"{'':28} {'median ms':>10} {'p95 ms':>8} {'seen':>6}")
    print(f"{'publish -> board SSE':28} {statistics.median(board_ms):10.1f} "
          f"{pct(board_ms, 0.95):8.1f} {len(board_ms):6d}")
    print(f"{'publish -> tail --json':28} {statistics.median(tail_ms):10.1f} "
          f"{pct(tail_ms, 0.95):8.1f} {len(tail_ms):6d}")
    print(f"board / tail (median): {statistics.median(board_ms) / statistics.median(tail_ms):.2f}")
    print(f"GET /api/board with {len(snapshot['incidents'])} active incidents: "
          f"{snapshot_ms:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
