"""How long `yishi census import` takes, and how much memory it holds, at compound and street scale.

Writes census files in the format of data/sample/census-sample.csv (10,080 and 100,800 homes) to a
temporary directory, then for each size runs, each in its own child process:
  baseline  a bare bulk insert of the same owners and homes (stdlib sqlite3 executemany, one transaction)
            into a freshly migrated SQLite database of the same schema;
  fresh     the real CLI `census import` into another freshly migrated SQLite database;
  reimport  the same CLI import of the unchanged file again (must write nothing).
Wall time, CPU time and peak RSS are the child's own (os.wait4), so one run's memory does not mask another's.
Targets (issue 15): 100,000 homes in <= 10 s, re-import <= 3 s, memory that does not grow with the file.

Run:  .venv/bin/python bench/census.py [--sizes 10080,100800]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = "building,unit,floor,room,area_m2,area_source,owner_id,owner_kind\n"
UNITS, FLOORS, ROOMS = 4, 30, 12  # 1,440 homes a building: 7 buildings = 10,080, 70 = 100,800

BASELINE = r"""
import csv, sqlite3, sys
path, db = sys.argv[1], sys.argv[2]
con = sqlite3.connect(db)
con.execute("INSERT INTO community (name, support_share_num, support_share_den, support_minimum, collecting_days,"
            " objection_days, elevator_rule, non_voters_follow_majority, quiet_hours, created_at)"
            " VALUES ('B', 1, 5, 5, 14, 15, 'vote_and_objections', 0, '22:00-08:00', '2026-01-01 00:00:00')")
with open(path, encoding="utf-8", newline="") as f:
    rows = list(csv.DictReader(f))
owners = {r["owner_id"]: r["owner_kind"] for r in rows}
con.executemany("INSERT INTO owner (community_id, ref, kind) VALUES (1, ?, ?)", owners.items())
owner_ids = dict(con.execute("SELECT ref, id FROM owner"))
buildings = sorted({r["building"] for r in rows})
con.executemany("INSERT INTO building (community_id, number) VALUES (1, ?)", [(b,) for b in buildings])
building_ids = dict(con.execute("SELECT number, id FROM building"))
units = sorted({(r["building"], r["unit"]) for r in rows})
con.executemany("INSERT INTO building_unit (building_id, number) VALUES (?, ?)",
                [(building_ids[b], u) for b, u in units])
unit_ids = {(b, u): i for i, b, u in con.execute(
    "SELECT bu.id, b.number, bu.number FROM building_unit bu JOIN building b ON b.id = bu.building_id")}
con.executemany(
    "INSERT INTO exclusive_unit (building_unit_id, floor, room, area_centi, area_source, owner_id)"
    " VALUES (?, ?, ?, ?, ?, ?)",
    ((unit_ids[(r["building"], r["unit"])], int(r["floor"]), r["room"],
      int(r["area_m2"].replace(".", "")), r["area_source"], owner_ids[r["owner_id"]]) for r in rows))
con.commit()
print(len(rows), "homes")
"""


def write_census(path: Path, homes: int) -> None:
    buildings = homes // (UNITS * FLOORS * ROOMS)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        n = 0
        for b in range(1, buildings + 1):
            for u in range(1, UNITS + 1):
                for f in range(1, FLOORS + 1):
                    for r in range(1, ROOMS + 1):
                        n += 1
                        area = 6000 + (n * 37) % 6000  # 60.00 to 119.99 m², always two decimals
                        # Every 50th home is the developer's (one owner, many homes), as in the sample.
                        owner, kind = ("DEV", "developer") if n % 50 == 0 else (f"O{n:06d}", "person")
                        source = ("registry", "survey", "contract")[n % 3]
                        out.write(f"{b},{u},{f},{f * 100 + r},{area // 100}.{area % 100:02d},{source},{owner},{kind}\n")


def run_child(args: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS in MB (this child alone), and its output.

    On a shared machine wall time includes waiting for a core; CPU seconds do not.
    """
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=env["_CWD"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({process.returncode}):\n{output}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024, output.strip().splitlines()[-1] if output.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10080,100800")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
        env["_CWD"] = str(work)
        env["PYTHONPATH"] = str(ROOT)
        print(f"{'homes':>7} {'run':<9} {'seconds':>8} {'cpu s':>7} {'peak MB':>8}  output")
        for homes in (int(size) for size in options.sizes.split(",")):
            path = work / f"census-{homes}.csv"
            write_census(path, homes)
            for name in ("baseline", "import"):
                db = work / f"{name}-{homes}.db"
                env["DATABASE_URL"] = f"sqlite+aiosqlite:///{db}"
                run_child([sys.executable, "-m", "bot", "migrate"], env)  # not timed: same for both
                if name == "baseline":
                    runs = [("baseline", [sys.executable, "-c", BASELINE, str(path), str(db)])]
                else:
                    cli = [sys.executable, "-m", "bot", "census", "import", str(path), "--community", "Street"]
                    runs = [("fresh", cli), ("reimport", cli)]
                for label, args in runs:
                    seconds, cpu, peak, output = run_child(args, env)
                    print(f"{homes:>7} {label:<9} {seconds:>8.2f} {cpu:>7.2f} {peak:>8.0f}  {output}", flush=True)


if __name__ == "__main__":
    main()
