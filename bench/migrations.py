"""`migrate_schemas` across 1,000 organisations: a no-op and a real migration, against
django-tenants' standard executor.

    .venv/bin/python bench/schemas_scale.py grow --to 1000 --prefix bench-   # once
    .venv/bin/python bench/migrations.py [--sample 100] [--processes N]

Every command runs as its own process (`manage.py migrate_schemas ...`), timed from start to
exit, as a deployment runs it:

1. no-op: everything already up to date. Kestrel's `migrate_schemas` (one batched read of
   every schema's migration table, nothing to run) against the library's standard executor
   (`migrate` in every schema in turn). The baseline runs on the first `--sample`
   organisations and is extrapolated to all of them (it grows linearly with the schemas).
2. real: with the bench-only tenant app `bench.migrapp` installed (bench/settings_migrate.py),
   its migration 0002 adds a column and an index to its own table (AddField, AddIndex) and a
   column and an index to `contacts_contact` (RunSQL), in every organisation. 0001 (a new
   table) is applied first, timed on its own. The baseline is again the standard executor on
   a sample, reverted afterwards; then Kestrel's command applies 0002 everywhere, then
   reverts it everywhere, then removes the app's tables (`migrapp zero`).

Results: a markdown table on stdout (with the load average, as other work shares the
machine) and bench/results/migrations.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_SETTINGS = "config.settings.development"
BENCH_SETTINGS = "bench.settings_migrate"


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(argv: list[str], settings: str) -> tuple[float, str]:
    """Run a command in a fresh process; (seconds, last lines of its output)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"failed ({done.returncode}): {' '.join(argv)}")
    tail = [line for line in done.stdout.splitlines() if line.startswith("Schemas:")]
    return seconds, (tail[-1] if tail else "")


def manage(*args: str, settings: str = DEFAULT_SETTINGS) -> tuple[float, str]:
    return run([PYTHON, "manage.py", "migrate_schemas", "--noinput", *args], settings)


def helper(phase: str, *args: str, settings: str) -> float:
    """Run a phase of this script in its own process; the seconds it reports."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(  # noqa: S603 - this script, fixed arguments
        [PYTHON, __file__, phase, *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"phase {phase} failed")
    return float(done.stdout.strip().splitlines()[-1])


# --- phases run in their own process --------------------------------------------------------


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def sample_schemas(count: int) -> list[str]:
    from tenants.models import Tenant

    return list(
        Tenant.objects.exclude(schema_name="public")
        .order_by("id")
        .values_list("schema_name", flat=True)[:count]
    )


def phase_standard(count: int) -> float:
    """django-tenants' standard executor over the first `count` organisations: the
    timed part of what `migrate_schemas --executor standard` does for each of them."""
    _setup()
    from django_tenants.migration_executors.standard import StandardExecutor

    schemas = sample_schemas(count)
    options = {
        "verbosity": 1,
        "interactive": False,
        "database": "default",
        "app_label": None,
        "migration_name": None,
        "fake": False,
        "fake_initial": False,
        "plan": False,
        "prune": False,
        "run_syncdb": False,
        "check_unapplied": False,
        "load_initial_data": True,
        "skip_checks": False,
        "force_color": False,
        "no_color": False,
    }
    started = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        stdout, sys.stdout = sys.stdout, devnull
        try:
            StandardExecutor((), options).run_migrations(tenants=schemas)
        finally:
            sys.stdout = stdout
    return time.perf_counter() - started


def phase_revert(count: int, label: str, name: str) -> float:
    """Migrate the first `count` organisations to `label name` (Kestrel's runner)."""
    _setup()
    from tenants import migrating

    schemas = sample_schemas(count)
    started = time.perf_counter()
    report = migrating.migrate_many(
        [migrating.Target(s, s) for s in schemas],
        args=(label, name),
        options={"verbosity": 0, "interactive": False, "database": "default"}
        | {"app_label": label, "migration_name": name},
        skip_up_to_date=False,
    )
    assert not report.failed, report.failed
    return time.perf_counter() - started


def phase_count() -> float:
    _setup()
    from tenants.models import Tenant

    return float(Tenant.objects.exclude(schema_name="public").count())


# --- the benchmark --------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        phase, *rest = sys.argv[1:]
        if phase == "_standard":
            print(phase_standard(int(rest[0])))
        elif phase == "_revert":
            print(phase_revert(int(rest[0]), rest[1], rest[2]))
        elif phase == "_count":
            print(phase_count())
        return 0

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--real-sample", type=int, default=50)
    parser.add_argument("--processes", type=int, default=None)
    parser.add_argument("--skip-noop", action="store_true", help="only the real migration")
    args = parser.parse_args()
    procs = ["--processes", str(args.processes)] if args.processes else []

    count = int(helper("_count", settings=DEFAULT_SETTINGS))
    rows: list[dict[str, Any]] = []

    def record(name: str, schemas: int, seconds: float, note: str = "", **extra: Any) -> None:
        row = {
            "step": name,
            "schemas": schemas,
            "seconds": round(seconds, 1),
            "per_schema_ms": round(seconds / schemas * 1000, 1) if schemas else None,
            "load": load(),
            "note": note,
            **extra,
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    print(f"{count} organisations; load {load()}", file=sys.stderr)
    seconds, summary = manage("-v", "0", *procs)  # catch up, untimed
    # 1. no-op
    for attempt in () if args.skip_noop else (1, 2):
        seconds, summary = manage(*procs)
        record(f"no-op, Kestrel (run {attempt})", count, seconds, summary)
    if not args.skip_noop:
        seconds = helper("_standard", str(args.sample), settings=DEFAULT_SETTINGS)
        record(
            "no-op, standard executor (sample)",
            args.sample,
            seconds,
            extrapolated_s=round(seconds / args.sample * count, 1),
        )

    # 2. real
    seconds, summary = manage("migrapp", "0001_initial", *procs, settings=BENCH_SETTINGS)
    record("migrapp 0001 (new table), Kestrel, every schema", count, seconds, summary)
    seconds = helper("_standard", str(args.real_sample), settings=BENCH_SETTINGS)
    record(
        "0002 (column + index, twice), standard executor (sample)",
        args.real_sample,
        seconds,
        extrapolated_s=round(seconds / args.real_sample * count, 1),
    )
    helper("_revert", str(args.real_sample), "migrapp", "0001_initial", settings=BENCH_SETTINGS)
    seconds, summary = manage(*procs, settings=BENCH_SETTINGS)
    record("0002 (column + index, twice), Kestrel", count, seconds, summary)
    seconds, summary = manage(*procs, settings=BENCH_SETTINGS)
    record("no-op after it, Kestrel", count, seconds, summary)
    seconds, summary = manage("migrapp", "0001_initial", *procs, settings=BENCH_SETTINGS)
    record("0002 reverted, Kestrel, every schema", count, seconds, summary)
    seconds, summary = manage("migrapp", "zero", *procs, settings=BENCH_SETTINGS)
    record("migrapp zero (drop the table), Kestrel, every schema", count, seconds, summary)

    print(f"\n`migrate_schemas` with {count} organisations\n")
    print("| step | schemas | wall | per schema | extrapolated to all | load avg after |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        extrapolated = f"{row['extrapolated_s']} s" if "extrapolated_s" in row else "—"
        print(
            f"| {row['step']} | {row['schemas']} | {row['seconds']} s | "
            f"{row['per_schema_ms']} ms | {extrapolated} | {row['load']} |"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "migrations.json").write_text(
        json.dumps({"organisations": count, "rows": rows}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
