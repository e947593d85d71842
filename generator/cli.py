"""``gen-project``: write a synthetic Django project. Imports stay light: the heavy work is imported on use."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit status 2, like every other bad input
        self.exit(2, f"Error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gen-project", description="Write a synthetic Django project of any size.")
    parser.add_argument("--models", required=True, help="number of models (≥ 1)")
    parser.add_argument("--apps", help="number of apps (default: models / 12)")
    parser.add_argument("--profile", default="realistic", help="minimal or realistic (default)")
    parser.add_argument("--seed", default="0", help="seed of every random choice (default 0)")
    parser.add_argument(
        "--output", type=Path, help="directory (default generated/<profile>-m<models>-s<seed>/)"
    )
    parser.add_argument(
        "--rows-per-model", default="20", help="Faker rows per model in db.sqlite3 (default 20)"
    )
    parser.add_argument("--no-db", action="store_true", help="write the source tree only")
    parser.add_argument("--force", action="store_true", help="replace a directory generated earlier")
    weight = parser.add_argument_group("weight knobs (defaults depend on --profile)")
    weight.add_argument("--fields-per-model", help="mean scalar fields per model")
    weight.add_argument("--relations-per-model", help="mean ForeignKey/OneToOne/ManyToMany fields per model")
    weight.add_argument("--loc-per-model", help="lines of business logic (services) per model")
    weight.add_argument("--imports", help="modules imported beyond Django, from generator.imports (0-30)")
    weight.add_argument(
        "--library-loc", help="lines of library code imported at start-up, whatever the model count"
    )
    weight.add_argument(
        "--view-library-loc", help="lines of library code the views import (loaded on the first request)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from generator.api import default_output, generate_project, resolve_options
    from generator.errors import GeneratorError

    try:
        options = resolve_options(
            args.models,
            apps=args.apps,
            profile=args.profile,
            seed=args.seed,
            rows_per_model=args.rows_per_model,
            fields_per_model=args.fields_per_model,
            relations_per_model=args.relations_per_model,
            loc_per_model=args.loc_per_model,
            imports=args.imports,
            library_loc=args.library_loc,
            view_library_loc=args.view_library_loc,
        )
        output = args.output or default_output(options)
        started = time.perf_counter()
        manifest = generate_project(options, output, build_db=not args.no_db, force=args.force)
    except GeneratorError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Error: interrupted; nothing was left behind", file=sys.stderr)
        return 130
    counts = manifest["counts"]
    print(
        f"{output}: {counts['apps']} apps, {counts['models']} models, {counts['url_patterns']} URL patterns, "
        f"{counts['lines_of_code']} lines of code"
        f"{'' if args.no_db else f', {options.rows_per_model} rows per model'} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
