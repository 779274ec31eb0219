"""A pump station and pipe segment simulated from physics, at 1 Hz, with labelled faults.

The station: a suction header fed by a tank, a lead pump (1) always running and an assist
pump (2) that starts when demand is high and stops when it falls (hysteresis, minimum run,
a soft-start current surge), a pipe segment to a district whose consumers draw
``C(t) * sqrt(p)``. ``C(t)`` follows a daily cycle (night low, morning and evening peaks),
slow random wander, and random steps (a large consumer switching on for hours). Each instant
the operating point solves pump curve = pipe + consumer curve (bisection, vectorised):

    p_discharge = p_suction + A * (1 - cavitation) - B * (Q / n_pumps)^2
    p_downstream = p_discharge - (K_pipe + K_valve) * Q^2 - E
    Q = C(t) * sqrt(p_downstream) + C_leak * sqrt(p_midpoint)

Motor current follows hydraulic power, vibration the pump's distance from its best-efficiency
flow, bearing and motor temperatures follow load and vibration through first-order thermal
lags around a daily ambient temperature. Every channel gets sensor noise and quantisation.

Faults (each a label interval; severity drawn per run in [0.6, 1] of the largest), with sizes
an operator would call a fault: ``valve_closure`` (pipe resistance up by up to 130 % in 5 s),
``leak`` (up to ~17 m³/h lost between the two flow meters),
``cavitation`` (a clogged suction strainer: suction pressure down with the flow, head loss that
flickers, broadband vibration), ``rotor_imbalance`` (a 1x component of 1.8-3 mm/s on pump 1's
~2 mm/s vibration, ISO 10816 from "good" to "alert"; bearing warmer), ``bearing_wear`` (a ramp
of vibration to up to 2.6x and bearing temperature to +10 °C until repair), ``sensor_stuck``
(one gauge holds its last value), ``sensor_drift`` (one gauge drifts off linearly by up to 8 %).

Each run repeats its fault: first after ``LEAD_IN_S`` (a day and 2 h) plus up to 2 h of normal
running, again 10 minutes
after it ends, 6 hours after the first, a day after the first, and once more 15 minutes after
an agent restart (the benchmark checkpoints and restores every detector at ``restart``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHANNELS: tuple[str, ...] = (
    "suction_kpa", "discharge_kpa", "flow_m3h", "current_a", "vib1_mm_s", "vib2_mm_s",
    "bearing_temp_c", "motor_temp_c", "downstream_kpa", "downstream_flow_m3h",
)
FAULTS: tuple[str, ...] = ("valve_closure", "leak", "cavitation", "rotor_imbalance",
                           "bearing_wear", "sensor_stuck", "sensor_drift")
ABRUPT: frozenset[str] = frozenset({"valve_closure", "leak", "cavitation", "rotor_imbalance"})
SENSOR_TARGETS = ("discharge_kpa", "flow_m3h", "downstream_kpa", "current_a")
DAY = 86_400
# Normal running before the first fault: the device has been commissioned for a day (its detectors
# have seen a daily cycle and the assist pump's starts), then 2 to 4 hours more.
LEAD_IN_S = DAY + 2 * 3600
T0 = 1_767_225_600  # 2026-01-01T00:00Z; runs start at a random hour of the day after it

# hydraulics (kPa, m³/h)
A_SHUTOFF, B_PUMP = 520.0, 0.0111
K_PIPE, ELEVATION = 0.003, 40.0
ASSIST_ON, ASSIST_OFF, ASSIST_MIN_RUN = 7.4, 6.4, 900  # demand coefficient thresholds; seconds
Q_BEP = 120.0


@dataclass(frozen=True)
class Event:
    """One occurrence of a fault: rows ``[start, end)``; ``occurrence`` says which repeat it is."""

    start: int
    end: int
    occurrence: str  # first | minutes | hours | day | restart


@dataclass(frozen=True)
class Run:
    """One simulated device: ``values`` (rows x CHANNELS), ``labels`` 1 while a fault is on."""

    name: str
    kind: str
    seed: int
    split: str  # tuning | held-out
    ts: np.ndarray
    values: np.ndarray
    labels: np.ndarray
    events: tuple[Event, ...]
    restart: int  # checkpoint, rebuild and restore every detector before this row
    target: str | None  # the gauge of a sensor fault


def _ar1(rng: np.random.Generator, n: int, tau: float, sd: float) -> np.ndarray:
    """An AR(1) process with time constant ``tau`` samples and stationary sd ``sd``."""
    phi = float(np.exp(-1.0 / tau))
    shocks = rng.normal(0.0, sd * np.sqrt(1.0 - phi * phi), n)
    out = np.empty(n)
    acc = rng.normal(0.0, sd)
    for i in range(n):  # ~50 ms for a day: not worth a scipy import
        acc = phi * acc + shocks[i]
        out[i] = acc
    return out


def _lag(target: np.ndarray, tau: float, start: float) -> np.ndarray:
    """First-order thermal lag of ``target`` with time constant ``tau`` samples."""
    a = 1.0 / tau
    out = np.empty(len(target))
    acc = start
    for i, v in enumerate(target.tolist()):
        acc += a * (v - acc)
        out[i] = acc
    return out


def _quantise(x: np.ndarray, step: float) -> np.ndarray:
    return np.round(x / step) * step


def schedule(kind: str, rng: np.random.Generator) -> tuple[list[Event], int, int]:
    """The fault's occurrences, the restart row and the run's length."""
    duration = int(rng.uniform(1800, 2700)) if kind in ("bearing_wear", "sensor_drift", "sensor_stuck") \
        else int(rng.uniform(300, 900))
    first = int(LEAD_IN_S + rng.uniform(0, 2 * 3600))
    events = [Event(first, first + duration, "first")]
    again = first + duration + 600
    events.append(Event(again, again + duration, "minutes"))
    events.append(Event(first + 6 * 3600, first + 6 * 3600 + duration, "hours"))
    events.append(Event(first + DAY, first + DAY + duration, "day"))
    restart = first + DAY + duration + 1800
    events.append(Event(restart + 900, restart + 900 + duration, "restart"))
    length = restart + 900 + duration + 1800
    return events, restart, length


def simulate(kind: str, seed: int, split: str = "tuning") -> Run:
    """One run of ``kind`` (a name of FAULTS) with its recurrences; deterministic in ``seed``."""
    rng = np.random.default_rng([seed, FAULTS.index(kind)])
    events, restart, n = schedule(kind, rng)
    start_s = int(rng.uniform(0, DAY))
    secs = start_s + np.arange(n, dtype=float)
    hour = (secs % DAY) / 3600.0

    # demand: daily cycle, wander, a large consumer's steps, fast flicker
    daily = (4.2 + 3.2 * np.exp(-((hour - 7.5) / 1.6) ** 2) + 2.6 * np.exp(-((hour - 19.0) / 2.2) ** 2)
             + 1.2 * np.exp(-((hour - 13.0) / 3.0) ** 2) - 1.2 * np.exp(-((hour - 3.5) / 2.0) ** 2))
    steps = np.zeros(n)
    t = int(rng.uniform(0, 4 * 3600))
    while t < n:
        length = int(rng.uniform(3600, 4 * 3600))
        steps[t:t + length] += rng.uniform(0.6, 1.4)
        t += length + int(rng.uniform(2 * 3600, 8 * 3600))
    demand = daily * (1.0 + _ar1(rng, n, 900.0, 0.04)) + steps + rng.normal(0.0, 0.03, n)

    # assist pump: on above ASSIST_ON, off below ASSIST_OFF after a minimum run; 8 s ramp-up
    on = np.zeros(n, dtype=bool)
    running, since = False, -ASSIST_MIN_RUN
    smooth = np.convolve(demand, np.ones(60) / 60.0, mode="same")
    for i in range(n):
        if not running and smooth[i] > ASSIST_ON:
            running, since = True, i
        elif running and smooth[i] < ASSIST_OFF and i - since >= ASSIST_MIN_RUN:
            running = False
        on[i] = running
    assist = np.convolve(on.astype(float), np.ones(8) / 8.0, mode="full")[:n]
    pumps = 1.0 + assist
    starts = np.flatnonzero(np.diff(on.astype(int)) == 1) + 1

    tank = 140.0 + 12.0 * np.sin(2 * np.pi * (hour - 14.0) / 24.0) + _ar1(rng, n, 3600.0, 2.0)
    k_valve = np.zeros(n)
    c_leak = np.zeros(n)
    cav = np.zeros(n)
    strainer = np.zeros(n)
    imbalance = np.zeros(n)
    wear = np.zeros(n)
    severity = rng.uniform(0.6, 1.0)
    flicker = np.clip(_ar1(rng, n, 3.0, 1.0), -2.5, 2.5)
    for ev in events:
        s, e = ev.start, ev.end
        ramp_in = np.minimum(np.arange(e - s) / 5.0, 1.0)  # abrupt faults settle within 5 s
        if kind == "valve_closure":
            k_valve[s:e] = severity * 0.004 * ramp_in
        elif kind == "leak":
            c_leak[s:e] = severity * 0.9 * ramp_in
        elif kind == "cavitation":
            strainer[s:e] = severity * 0.0035 * ramp_in
            cav[s:e] = severity * (0.07 + 0.03 * flicker[s:e]) * ramp_in
        elif kind == "rotor_imbalance":
            imbalance[s:e] = severity * 3.0 * ramp_in
        elif kind == "bearing_wear":
            wear[s:e] = severity * np.linspace(0.0, 1.0, e - s)

    # operating point by bisection on station flow Q
    lo, hi = np.zeros(n), np.full(n, 450.0)
    suction = tank - strainer * 0.0  # placeholder, refined with Q below
    for _ in range(40):
        q = 0.5 * (lo + hi)
        suction = tank - strainer * q * q
        p_dis = suction + A_SHUTOFF * (1.0 - cav) - B_PUMP * (q / pumps) ** 2
        p_down = p_dis - (K_PIPE + k_valve) * q * q - ELEVATION
        p_mid = p_dis - 0.5 * (K_PIPE + k_valve) * q * q - 0.5 * ELEVATION
        drawn = demand * np.sqrt(np.maximum(p_down, 0.0)) + c_leak * np.sqrt(np.maximum(p_mid, 0.0))
        too_much = q > drawn
        hi = np.where(too_much, q, hi)
        lo = np.where(too_much, lo, q)
    q = 0.5 * (lo + hi)
    suction = tank - strainer * q * q
    p_dis = suction + A_SHUTOFF * (1.0 - cav) - B_PUMP * (q / pumps) ** 2
    p_down = p_dis - (K_PIPE + k_valve) * q * q - ELEVATION
    p_mid = p_dis - 0.5 * (K_PIPE + k_valve) * q * q - 0.5 * ELEVATION
    leak_flow = c_leak * np.sqrt(np.maximum(p_mid, 0.0))
    q_out = q - leak_flow

    # per pump: flow share, head, current, vibration
    q1 = q / pumps
    head = p_dis - suction
    v01, v02 = rng.uniform(1.6, 2.4), rng.uniform(1.6, 2.4)
    current = 15.0 + 0.0011 * q1 * head + assist * (15.0 + 0.0011 * q1 * head)
    for s0 in starts:  # soft-starter surge of the assist motor
        current[s0:s0 + 5] += np.linspace(90.0, 10.0, len(current[s0:s0 + 5]))
    current *= 1.0 + 0.01 * imbalance / 3.0 + 0.03 * cav / 0.1 * flicker
    vib1 = v01 * (1.0 + 0.5 * ((q1 - Q_BEP) / Q_BEP) ** 2)
    vib1 = np.sqrt(vib1 ** 2 + imbalance ** 2) * (1.0 + 1.6 * wear) * (1.0 + 12.0 * cav * np.abs(flicker))
    vib2 = 0.12 + assist * v02 * (1.0 + 0.5 * ((q1 - Q_BEP) / Q_BEP) ** 2)

    ambient = 18.0 + 5.0 * np.sin(2 * np.pi * (hour - 9.0) / 24.0) + _ar1(rng, n, 1800.0, 0.3)
    motor_temp = _lag(ambient + 38.0 * (current / (1.0 + assist) / 62.0) ** 2, 1500.0, 55.0)
    bearing_temp = _lag(ambient + 20.0 + 6.0 * q1 / Q_BEP + 1.2 * (vib1 - v01) + 10.0 * wear, 900.0, 45.0)

    noise = rng.normal(0.0, 1.0, (n, len(CHANNELS)))
    cols = [
        _quantise(suction + 0.6 * noise[:, 0], 0.1),
        _quantise(p_dis + 0.8 * noise[:, 1], 0.1),
        _quantise(q * (1.0 + 0.005 * noise[:, 2]) + 0.3 * noise[:, 2], 0.1),
        _quantise(current + 0.4 * noise[:, 3], 0.1),
        _quantise(vib1 * (1.0 + 0.05 * noise[:, 4]), 0.01),
        _quantise(vib2 * (1.0 + 0.05 * noise[:, 5]), 0.01),
        _quantise(bearing_temp + 0.05 * noise[:, 6], 0.1),
        _quantise(motor_temp + 0.05 * noise[:, 7], 0.1),
        _quantise(p_down + 0.8 * noise[:, 8], 0.1),
        _quantise(q_out * (1.0 + 0.005 * noise[:, 9]) + 0.3 * noise[:, 9], 0.1),
    ]
    values = np.column_stack(cols)
    labels = np.zeros(n, dtype=np.int8)
    for ev in events:
        labels[ev.start:ev.end] = 1

    target = None
    if kind in ("sensor_stuck", "sensor_drift"):
        target = SENSOR_TARGETS[int(rng.integers(len(SENSOR_TARGETS)))]
        col = CHANNELS.index(target)
        typical = float(np.median(values[:, col]))
        for ev in events:
            if kind == "sensor_stuck":
                values[ev.start:ev.end, col] = values[ev.start - 1, col]
            else:
                values[ev.start:ev.end, col] += np.linspace(0.0, severity * 0.08 * typical, ev.end - ev.start)
    name = f"{kind}-{seed}"
    return Run(name=name, kind=kind, seed=seed, split=split, ts=T0 + secs, values=values,
               labels=labels, events=tuple(events), restart=restart, target=target)
