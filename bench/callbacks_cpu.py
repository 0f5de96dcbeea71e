"""Where the CPU went during a benchmark phase, per group of processes, read from /proc (Linux).

On a 2-core machine the server, the drainer, PostgreSQL, Redis and the load generator share the
cores, so a phase's rate only means something next to who used them; "other" shows anything
else running on the machine at the time.
"""

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
GROUPS = ("server", "drainer", "postgres", "redis", "generator")


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


def snapshot(server_pid: int, drainer_pids: list[int]) -> dict:
    """(group, pid) → CPU seconds so far, and the machine's busy seconds."""
    processes = _processes()

    def in_tree(pid: int, root: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = processes.get(pid, ("", 1, 0))[1]
        return False

    found: dict = {}
    me = os.getpid()
    for pid, (name, _, seconds) in processes.items():
        if in_tree(pid, server_pid):
            found[("server", pid)] = seconds
        elif any(in_tree(pid, d) for d in drainer_pids):
            found[("drainer", pid)] = seconds
        elif name == "postgres":
            found[("postgres", pid)] = seconds
        elif name.startswith("redis-server"):
            found[("redis", pid)] = seconds
        elif pid == me:
            found[("generator", pid)] = seconds
    found["machine"] = _machine_busy()
    return found


def cores_used(before: dict, after: dict, seconds: float) -> dict[str, float]:
    """Average cores busy per group over the phase; "other" is the machine's rest. Per process, so
    one that ended during the phase (a closed database connection) takes nothing away."""
    used = dict.fromkeys(GROUPS, 0.0)
    for key, spent in after.items():
        if key != "machine":
            used[key[0]] += spent - before.get(key, 0.0)
    used = {name: round(value / seconds, 2) for name, value in used.items()}
    used["machine"] = round((after["machine"] - before["machine"]) / seconds, 2)
    used["other"] = round(used["machine"] - sum(v for k, v in used.items() if k != "machine"), 2)
    return used
