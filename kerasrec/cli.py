"""The ``kerasrec`` command line.

Every subcommand prints a readable result on stdout and, on bad input, one actionable
line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from kerasrec.errors import KerasRecError


def _bar(count: int, largest: int, width: int = 40) -> str:
    return "#" * max(1 if count else 0, round(width * count / max(largest, 1)))


def format_info(summary: dict) -> str:
    """Render :meth:`MovieData.describe` output as a readable report."""
    lines = [f"kerasrec info: {summary['source']}", ""]
    years = summary["year_range"]
    rows = [
        ("movies", f"{summary['movies']:,} ({summary['rated_movies']:,} rated)"),
        ("users", f"{summary['users']:,}"),
        ("ratings", f"{summary['ratings']:,}"),
        ("sparsity", f"{summary['sparsity']:.2%} of user x rated-movie cells empty"),
        ("per user", f"median {summary['ratings_per_user_median']:g} ratings"),
        ("mean rating", f"{summary['mean_rating']:.3f} stars"),
        ("years", f"{years[0]}-{years[1]}" if years else "none parsed"),
        ("no year", f"{summary['movies_without_year']:,} movies"),
        ("no genres", f"{summary['movies_without_genres']:,} movies"),
    ]
    lines += [f"  {name:<12} {value}" for name, value in rows]
    lines += ["", f"Genres ({len(summary['genres'])}, movies per genre):"]
    top = max(summary["genres"].values(), default=0)
    lines += [f"  {g:<12} {n:>7,} {_bar(n, top, 30)}" for g, n in summary["genres"].items()]
    lines += ["", "Rating histogram:"]
    hist = summary["rating_histogram"]
    top = max(hist.values(), default=0)
    lines += [f"  {r:>4.1f} {n:>8,} {_bar(n, top)}" for r, n in hist.items()]
    return "\n".join(lines)


def _cmd_info(args: argparse.Namespace) -> int:
    from kerasrec.data import load_movies, sample_path

    data = load_movies(args.data or sample_path())
    summary = data.describe()
    print(json.dumps(summary, indent=2) if args.json else format_info(summary))
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from kerasrec.data import make_sample, write_parquet, write_workbook

    data = make_sample(args.users, args.movies, args.ratings, args.seed)
    if args.out.endswith((".xlsx", ".xlsm")):
        write_workbook(data, args.out)
    else:
        write_parquet(data, args.out)
    print(f"wrote {data.n_ratings:,} ratings of {data.n_users:,} users on "
          f"{data.n_movies:,} movies to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kerasrec`` command."""
    from kerasrec import __version__
    from kerasrec.data.sample import DEFAULT_SAMPLE

    parser = argparse.ArgumentParser(
        prog="kerasrec", description="Hybrid movie recommenders with Keras 3, from a "
        "spreadsheet of MovieLens-style ratings.")
    parser.add_argument("--version", action="version", version=f"kerasrec {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = commands.add_parser("info", help="summarise a data file",
                               description="Summarise a data file: sizes, sparsity, genres, "
                               "years and the rating histogram.")
    info.add_argument("data", nargs="?", help="xlsx workbook, MovieLens folder/zip or "
                      "Parquet folder (default: the bundled sample)")
    info.add_argument("--json", action="store_true", help="print JSON instead of a report")
    info.set_defaults(run=_cmd_info)

    sample = commands.add_parser("sample", help="generate synthetic MovieLens-style data",
                                 description="Generate data with planted structure (user "
                                 "taste, movie quality, weekend/daytime effects).")
    sample.add_argument("out", help="output .xlsx workbook, or a folder for Parquet files")
    sample.add_argument("--users", type=int, default=DEFAULT_SAMPLE["n_users"])
    sample.add_argument("--movies", type=int, default=DEFAULT_SAMPLE["n_movies"])
    sample.add_argument("--ratings", type=int, default=DEFAULT_SAMPLE["n_ratings"])
    sample.add_argument("--seed", type=int, default=DEFAULT_SAMPLE["seed"])
    sample.set_defaults(run=_cmd_sample)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``kerasrec`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except (KerasRecError, ValueError) as exc:
        print(f"kerasrec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kerasrec {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
