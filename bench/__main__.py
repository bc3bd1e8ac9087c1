"""`make bench`: run the benchmarks by hand (PostgreSQL), never in CI.

    make bench                       # every suite
    make bench BENCH_ARGS=messaging  # one suite

Each suite is a module in this package with a ``run(args) -> dict`` function; results
are printed and written to bench-results/<suite>.json.
"""

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

SUITES = [
    "messaging",
    "automation",
    "campaigns",
    "web",
    "retention",
    "imports",
    "calendar",
    "dashboard",
    "booking",
]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("suites", nargs="*", default=SUITES, help=f"any of {SUITES}")
    args, rest = parser.parse_known_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fitcrm.settings")
    import django

    django.setup()
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    for name in args.suites:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError:
            print(f"[{name}] no such benchmark yet", file=sys.stderr)
            continue
        print(f"== {name} ==", flush=True)
        result = module.run(rest)
        (out / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
        print(json.dumps(result, indent=2, default=str), flush=True)


if __name__ == "__main__":
    main()
