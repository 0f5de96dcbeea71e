"""Where the CPU went during a benchmark phase, per group of processes, read from /proc (Linux).

On a 2-core machine the server, the drainer, PostgreSQL, Redis and the load generator share the
cores, so a phase's rate only means something next to who used them; "other" shows anything
else running on the machine at the time.
"""

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[str, int, float]]:
    """pid → (command name, parent pid, CPU seconds so far)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1: raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        found[int(entry.name)] = (name, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
    return found


def _machine_busy() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICK


def snapshot(server_pid: int, drainer_pids: list[int]) -> dict[str, float]:
    processes = _processes()

    def in_tree(pid: int, root: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = processes.get(pid, ("", 1, 0))[1]
        return False

    groups = {"server": 0.0, "drainer": 0.0, "postgres": 0.0, "redis": 0.0, "generator": 0.0}
    me = os.getpid()
    for pid, (name, _, seconds) in processes.items():
        if in_tree(pid, server_pid):
            groups["server"] += seconds
        elif any(in_tree(pid, d) for d in drainer_pids):
            groups["drainer"] += seconds
        elif name == "postgres":
            groups["postgres"] += seconds
        elif name.startswith("redis-server"):
            groups["redis"] += seconds
        elif pid == me:
            groups["generator"] += seconds
    groups["machine"] = _machine_busy()
    return groups


def cores_used(before: dict, after: dict, seconds: float) -> dict[str, float]:
    """Average cores busy per group over the phase; "other" is the machine's rest."""
    used = {name: round((after[name] - before[name]) / seconds, 2) for name in before}
    used["other"] = round(used["machine"] - sum(v for k, v in used.items() if k != "machine"), 2)
    return used
