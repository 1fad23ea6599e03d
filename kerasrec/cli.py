"""The ``kerasrec`` command line.

Every subcommand prints a readable result on stdout and, on bad input, one actionable
line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import numbers
import os
import sys
from pathlib import Path
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
        ("mean rating", f"{summary['mean_rating']:.3f} stars "
                        f"(scale {summary['rating_range'][0]:g}-{summary['rating_range'][1]:g})"),
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

    data = load_movies(args.data or sample_path(), rating_range=args.rating_range)
    summary = data.describe()
    print(json.dumps(summary, indent=2) if args.json else format_info(summary))
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from kerasrec.data import make_sample, write_sample, write_workbook

    if args.out.endswith((".xlsx", ".xlsm")):
        data = make_sample(args.users, args.movies, args.ratings, args.seed)
        write_workbook(data, args.out)
        users, movies = data.n_users, data.n_movies
    else:
        # Streamed chunk by chunk: MovieLens-25M sizes never sit in memory as one frame.
        write_sample(args.out, args.users, args.movies, args.ratings, args.seed)
        import pyarrow.parquet as pq

        users = len(pq.read_table(Path(args.out) / "ratings.parquet",
                                  columns=["userId"]).column(0).unique())
        movies = args.movies
    print(f"wrote {args.ratings:,} ratings of {users:,} users on "
          f"{movies:,} movies to {args.out}")
    return 0


def _say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _table(frame, floats: str = "{:.3f}") -> str:
    """A DataFrame as a plain text table without the index; titles are never cut."""
    return frame.to_string(index=False, float_format=lambda v: floats.format(v))


def _option_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _options(pairs: List[str]) -> dict:
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE (e.g. --set mf_dim=64), got {pair!r}")
        options[key.strip()] = _option_value(value.strip())
    return options


def _id_list(text: str) -> List[int]:
    """argparse type: "318,296,2571" -> [318, 296, 2571]; an empty part ("318,,296", ",")
    is a slip, not "no movie", so it is refused."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected movieIds separated by commas, got "
                                         f"{text!r}") from None


def _rating_range(text: str):
    """argparse type: "1,10" -> (1.0, 10.0), the rating scale's lowest and highest stars."""
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be LOW,HIGH stars, e.g. 1,10, got "
                                         f"{text!r}") from None
    from kerasrec.data.validate import check_read_options

    try:  # the loaders' own check of a scale
        check_read_options(rating_range=(low, high))
    except KerasRecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return low, high


def _year_range(text: str):
    """argparse type: "1990-1999", "2000-" or "-1979" -> (first, last), None for open."""
    first, sep, last = text.partition("-")
    try:
        if not sep:
            raise ValueError
        return (int(first) if first.strip() else None, int(last) if last.strip() else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be FIRST-LAST years, e.g. 1990-1999 or 2000-, "
                                         f"got {text!r}") from None


def _context_words(rec, args) -> str:
    """The context a command used, in words: "2024-05-04 21:00 CEST: night, weekend"."""
    import pandas as pd

    from kerasrec.features.context import with_context

    pairs = with_context(pd.DataFrame({"userId": [0], "movieId": [0]}), _context_value(args))
    daytime, weekend = rec.pipeline_.context(pairs)[0]
    words = f"{'daytime' if daytime else 'night'}, {'weekend' if weekend else 'weekday'}"
    if args.timestamp is None:
        return words
    when = pd.Timestamp(args.timestamp, unit="s", tz="UTC").tz_convert(rec.timezone)
    return f"{when:%Y-%m-%d %H:%M %Z}: {words}"


def _context_value(args):
    """A Recommender ``context``: the timestamp if given, else the two flags."""
    if args.timestamp is not None:
        return args.timestamp
    return {"daytime": int(args.daytime), "weekend": int(args.weekend)}


def _cmd_train(args: argparse.Namespace) -> int:
    from kerasrec.run import RunConfig, train_run

    config = RunConfig(data=args.data, model=args.model, split=args.split,
                       test_size=args.test_size, train_file=args.train, test_file=args.test,
                       seed=args.seed, epochs=args.epochs, batch_size=args.batch_size,
                       learning_rate=args.learning_rate, optimizer=args.optimizer,
                       strategy=args.strategy,
                       timezone=args.timezone,
                       rating_scaling=args.scaling, rating_range=args.rating_range,
                       options=_options(args.set),
                       verbose=0 if args.quiet else (1 if sys.stdout.isatty() else 2))
    out = train_run(config, args.out, progress=_say if not args.quiet else lambda m: None)
    from kerasrec.distribute import is_chief

    if not is_chief(args.strategy):
        print(f"kerasrec train: worker done; the chief worker writes {out}")
        return 0
    metrics = json.loads((out / "metrics.json").read_text())
    print(f"kerasrec train: {args.model} -> {out}")
    _print_scores({key: metrics[key] for key in ("rmse", "mae", "watched_recall@10",
                                                  "watched_ndcg@10", "liked_recall@10",
                                                  "coverage@10", "fit_seconds")
                   if key in metrics})
    print(f"next: kerasrec recommend {out} --user ID | kerasrec explain {out} --user ID "
          f"--movie ID | kerasrec export {out} --out served")
    return 0


def _print_scores(scores: dict) -> None:
    """One aligned line per score: counts as integers, seconds to one decimal, the rest to
    four decimals."""
    width = max(map(len, scores), default=0)
    for key, value in scores.items():
        if value is None:  # ranking metrics are undefined when no test user has enough ratings
            text = "n/a"
        elif isinstance(value, numbers.Integral):
            text = f"{int(value):,}"
        elif key.endswith("_seconds"):
            text = f"{float(value):.1f}"
        else:
            text = f"{float(value):.4f}"
        print(f"  {key:<{width}} {text}")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from kerasrec.data import load_ratings
    from kerasrec.run import load_run

    run = load_run(args.run_dir)
    rec = run.recommender
    test = (load_ratings(args.test, rating_range=rec.pipeline_.config.rating_range)
            if args.test else run.test_ratings())
    scores = rec.evaluate(test, k=args.k)
    if args.predictions:  # predicted once more only when asked for
        from kerasrec._io import atomic_path

        frame = test[["userId", "movieId", "rating"]].assign(prediction=rec.predict(test))
        with atomic_path(args.predictions) as tmp:
            frame.to_csv(tmp, index=False)
    if args.json:
        print(json.dumps(scores))
    else:
        print(f"kerasrec evaluate: {len(test):,} ratings")
        _print_scores(scores)
        if args.predictions:
            print(f"predictions written to {args.predictions}")
    return 0


def _cmd_recommend(args: argparse.Namespace) -> int:
    from kerasrec.run import load_run

    rec = load_run(args.run_dir).recommender
    top = rec.recommend(args.user, k=args.k, context=_context_value(args),
                        exclude_seen=not args.include_seen, genres=args.genre,
                        years=args.years, exclude=args.exclude, recent=args.recent)
    known = "" if rec.pipeline_.user_index([args.user])[0] else (
        " (unknown user: popular movies)" if args.recent is None else " (unknown user)")
    if args.recent is not None:
        known += f"; after {len(args.recent)} recent movies"
    order = ("how likely they are to watch each" if top.attrs["ranked_by"] == "relevance"
             else "predicted stars")
    print(f"top {len(top)} for user {args.user}{known}; ranked by {order}; context: "
          f"{_context_words(rec, args)}")
    print(_table(top[["rank", "movieId", "title", "genres", "predicted_rating"]]))
    return 0


def _cmd_similar(args: argparse.Namespace) -> int:
    from kerasrec.run import load_run

    rec = load_run(args.run_dir).recommender
    similar = rec.similar_items(args.movie, k=args.k)
    print(f"movies most similar to {args.movie} ({rec.catalog_.title(args.movie)})")
    print(_table(similar[["rank", "movieId", "title", "genres", "similarity"]]))
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from kerasrec.run import load_run

    from kerasrec.errors import UnknownMovieError

    rec = load_run(args.run_dir).recommender
    if rec.catalog_.title(args.movie) is None:
        raise UnknownMovieError(f"movieId {args.movie} is not in the catalog of "
                                f"{len(rec.catalog_.movies):,} movies; `kerasrec info` on the "
                                "data lists them")
    if args.recent is not None and not rec.model_.supports("recent"):
        rec.model_.recent_module()  # raises, saying why
    parts = rec.explain(args.user, args.movie, context=_context_value(args))
    print(f"user {args.user}, movie {args.movie} ({parts.attrs['title']}): "
          f"{parts.attrs['prediction']:.3f} stars")
    for name, value in parts.items():
        print(f"  {name:<18} {value:+.4f}")
    if rec.model_.supports("explain_relevance"):
        relevance = rec.explain_relevance(args.user, args.movie, recent=args.recent)
        after = "" if args.recent is None else f", after {len(args.recent)} recent movies"
        print(f"relevance (what lists rank by{after}): {relevance.attrs['relevance']:.3f}")
        for name, value in relevance.items():
            print(f"  {name:<18} {value:+.4f}")
    if rec.model_.supports("recent") and (args.recent or rec.pipeline_.user_index(
            [args.user])[0]):
        because = rec.because(args.user, args.movie, recent=args.recent).head(3)
        if len(because):
            print("because you watched: " + "; ".join(
                f"{row.title} ({row.share:+.3f})" for row in because.itertuples()))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from kerasrec.export import export_saved_model
    from kerasrec.run import load_run

    rec = load_run(args.run_dir).recommender
    _say("computing the score table and writing the SavedModel")
    path = export_saved_model(rec, args.out, version=args.version)
    print(f"kerasrec export: wrote {path}")
    print(f"try: saved_model_cli show --dir {path} --all")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from kerasrec.errors import ArgumentError
    from kerasrec.run import load_run, write_plots

    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise ArgumentError(f"--out '{args.out}' is a file; pass a folder (the plots go to "
                            "its plots/ subfolder)")
    run = load_run(args.run_dir)
    if not run.meta:
        raise ValueError(f"'{args.run_dir}' is a saved Recommender, not a run directory; plots "
                         "need the run's ratings (kerasrec train --out DIR)")
    import pandas as pd

    predictions = pd.read_csv(run.path / "predictions.csv")
    out = Path(args.out) if args.out else run.path
    paths = write_plots(out, run.recommender, predictions, run.train_ratings())
    print("\n".join(str(p) for p in paths))
    return 0


def _whole_number(low: int, high: Optional[int], words: str):
    """An argparse type: a whole number in ``[low, high]``, refused as ``words`` says."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {words}, got {value}")
        return value
    return parse


#: k, epochs, sizes, versions.
_positive_int = _whole_number(1, None, "a positive whole number")
#: A seed NumPy and TensorFlow accept.
_seed = _whole_number(0, 2 ** 32 - 1, "in [0, 2**32)")
#: Unix seconds between 1970 and 9999.
_unix_time = _whole_number(0, 253_402_300_799,
                           "Unix seconds between 0 (1970) and 253402300799 (9999)")


def _add_context(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--daytime", action="store_true", help="rated in the daytime")
    parser.add_argument("--weekend", action="store_true", help="rated at the weekend")
    parser.add_argument("--timestamp", type=_unix_time, default=None,
                        help="Unix time of the rating (overrides --daytime/--weekend)")


def _add_rating_range(parser: argparse.ArgumentParser) -> None:
    from kerasrec.schema import RATING_RANGE

    # A text default goes through the type as typed text does, and reads as typed in --help.
    parser.add_argument("--rating-range", type=_rating_range,
                        default=",".join(f"{v:g}" for v in RATING_RANGE), metavar="LOW,HIGH",
                        help="the rating scale, lowest and highest stars (e.g. 1,10 for "
                        "ratings out of ten)")


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, where there is one to show."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse, with defaults in the help and errors on one line like every other
    kerasrec error (subcommands inherit both)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} "
                     f"(see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kerasrec`` command."""
    from kerasrec._version import __version__
    from kerasrec.data.sample import DEFAULT_SAMPLE

    parser = _Parser(
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
    _add_rating_range(info)
    info.set_defaults(handler=_cmd_info)

    sample = commands.add_parser("sample", help="generate synthetic MovieLens-style data",
                                 description="Generate data with planted structure (user "
                                 "taste, movie quality, weekend/daytime effects).")
    sample.add_argument("out", help="output .xlsx workbook, or a folder for Parquet files")
    sample.add_argument("--users", type=_positive_int, default=DEFAULT_SAMPLE["n_users"],
                        help="number of users")
    sample.add_argument("--movies", type=_positive_int, default=DEFAULT_SAMPLE["n_movies"],
                        help="number of movies")
    sample.add_argument("--ratings", type=_positive_int, default=DEFAULT_SAMPLE["n_ratings"],
                        help="number of ratings")
    sample.add_argument("--seed", type=_seed, default=DEFAULT_SAMPLE["seed"],
                        help="random seed: the same seed writes the same data")
    sample.set_defaults(handler=_cmd_sample)

    from kerasrec.run import SPLITS

    train = commands.add_parser(
        "train", help="train, evaluate and write a run directory",
        description="Split the ratings, train a model, evaluate it on the held-out "
        "ratings and write a complete run directory (model, pipeline, config, "
        "metrics.json, history.csv, predictions.csv, plots), atomically.")
    train.add_argument("data", nargs="?", help="data file or folder (default: the bundled "
                       "sample)")
    from kerasrec.models.base import DEFAULT_MODEL, model_names

    train.add_argument("--model", default=DEFAULT_MODEL, choices=model_names(),
                       metavar="MODEL", help=f"the model to train, one of "
                       f"{', '.join(model_names())} (docs/guide.md lists them)")
    train.add_argument("--out", default="runs/latest", help="run directory; replaced only "
                       "when the new run is complete")
    train.add_argument("--split", default="random", choices=SPLITS,
                       help="how to hold out test ratings")
    train.add_argument("--test-size", type=float, default=0.2,
                       help="share of the ratings held out for testing")
    train.add_argument("--train", default=None, help="ratings file to train on instead of "
                       "DATA's ratings (e.g. a fixed split)")
    train.add_argument("--test", default=None, help="ratings file to test on; its pairs are "
                       "left out of training (overrides --split)")
    train.add_argument("--epochs", type=_positive_int, default=None,
                       help="most training epochs (early stopping may end sooner; default: "
                       "the model's own)")
    train.add_argument("--batch-size", type=_positive_int, default=None,
                       help="ratings per gradient step (default: the model's own)")
    train.add_argument("--learning-rate", type=float, default=None,
                       help="the optimizer's learning rate (default: the model's own)")
    train.add_argument("--optimizer", choices=("adam", "lazy_adam"), default=None,
                       help="adam (the default) or lazy_adam, which updates only the "
                       "embedding rows a batch touches: much faster with large catalogs")
    train.add_argument("--strategy", choices=("mirrored", "multiworker"), default=None,
                       help="train with tf.distribute: 'mirrored' over this machine's devices, "
                       "'multiworker' over the workers in TF_CONFIG (run the same command on "
                       "each; worker 0 writes the run). --batch-size is the global batch")
    train.add_argument("--seed", type=_seed, default=0,
                       help="seed of the split and the training: the same seed, the same run")
    train.add_argument("--timezone", default="UTC", help="time zone of daytime/weekend")
    train.add_argument("--scaling", default="minmax",
                       choices=("minmax", "standard", "none", "article"),
                       help="how ratings are scaled for training (reversed for predictions)")
    _add_rating_range(train)
    train.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="model option, e.g. --set mf_dim=64 --set 'mlp_units=[128,64]'")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.set_defaults(handler=_cmd_train)

    evaluate = commands.add_parser(
        "evaluate", help="score a run on test ratings",
        description="Score a run on its held-out ratings or on TEST: RMSE, MAE, top-k lists "
        "over the whole catalog (watched/liked recall and NDCG, hit rate, coverage, novelty), "
        "and re-rankings of each user's test movies (NDCG@10, precision/recall/MAP/hit rate@k, "
        "MRR, the article's top-5 checks).")
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (kerasrec "
                          "train --out) or a saved Recommender")
    evaluate.add_argument("test", nargs="?", help="ratings file (default: the run's test "
                          "ratings)")
    evaluate.add_argument("--predictions", metavar="OUT.csv", help="also write userId, "
                          "movieId, rating, prediction (the shared scorer's format)")
    evaluate.add_argument("-k", "--k", type=_positive_int, default=10,
                          help="length of the top-N lists scored")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.set_defaults(handler=_cmd_evaluate)

    recommend = commands.add_parser("recommend", help="top movies for a user",
                                    description="The k movies a user is most likely to "
                                    "choose (or rate highest), over the whole catalog, movies "
                                    "the user rated left out; unknown users get popular "
                                    "movies.")
    recommend.add_argument("run_dir", metavar="RUN_DIR", help="a run directory or a saved "
                           "Recommender")
    recommend.add_argument("--user", type=int, required=True, help="the userId")
    recommend.add_argument("-k", "--k", type=_positive_int, default=10, help="how many movies")
    recommend.add_argument("--include-seen", action="store_true",
                           help="keep movies the user rated in training")
    recommend.add_argument("--genre", action="append", metavar="GENRE",
                           help="only movies of this genre (repeat for any of several)")
    recommend.add_argument("--years", type=_year_range, metavar="FIRST-LAST",
                           help="only movies released in these years, e.g. 1990-1999 or "
                           "2000- (inclusive)")
    recommend.add_argument("--exclude", type=int, action="append", metavar="MOVIE_ID",
                           help="never this movie (repeat for several)")
    recommend.add_argument("--recent", type=_id_list, metavar="ID,ID,...",
                           help="movieIds the user rated since training, oldest first: they "
                           "join the user's recent history without retraining (models with "
                           "a sequence branch, e.g. the default hybrid)")
    _add_context(recommend)
    recommend.set_defaults(handler=_cmd_recommend)

    similar = commands.add_parser("similar", help="movies similar to a movie",
                                  description="Movies whose learned vectors are closest "
                                  "(cosine) to a movie's.")
    similar.add_argument("run_dir", metavar="RUN_DIR", help="a run directory or a saved "
                         "Recommender")
    similar.add_argument("--movie", type=int, required=True, help="the movieId")
    similar.add_argument("-k", "--k", type=_positive_int, default=10, help="how many movies")
    similar.set_defaults(handler=_cmd_similar)

    explain = commands.add_parser("explain", help="why a predicted rating",
                                  description="Each branch's contribution to one predicted "
                                  "rating, in stars (the hybrid); for models that rank by "
                                  "relevance its parts too, and the recent movies behind it.")
    explain.add_argument("run_dir", metavar="RUN_DIR", help="a run directory or a saved "
                         "Recommender")
    explain.add_argument("--user", type=int, required=True, help="the userId")
    explain.add_argument("--movie", type=int, required=True, help="the movieId")
    explain.add_argument("--recent", type=_id_list, metavar="ID,ID,...",
                         help="as for recommend: movieIds the user rated since training, "
                         "oldest first; the relevance and 'because you watched' read them")
    _add_context(explain)
    explain.set_defaults(handler=_cmd_explain)

    export = commands.add_parser(
        "export", help="write a TensorFlow SavedModel for serving",
        description="Write a SavedModel (signatures serving_default, recommend, "
        "similar_items) that takes raw userIds and movieIds into OUT/<version>/, the "
        "layout TensorFlow Serving expects.")
    export.add_argument("run_dir", metavar="RUN_DIR", help="a run directory or a saved "
                        "Recommender")
    export.add_argument("--out", required=True, help="model base path")
    export.add_argument("--version", type=_positive_int, default=None,
                        help="version number (default: the next free one)")
    export.set_defaults(handler=_cmd_export)

    plot = commands.add_parser("plot", help="(re)draw a run's PNG plots",
                               description="Draw training curves, predicted vs true, the "
                               "rating distribution and ratings per user as PNG files.")
    plot.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    plot.add_argument("--out", default=None, help="folder (default: RUN_DIR; plots go to "
                      "OUT/plots)")
    plot.set_defaults(handler=_cmd_plot)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``kerasrec`` console script; returns the exit status."""
    # TensorFlow's C++ start-up chatter is not for command-line users.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except (KerasRecError, ValueError, OSError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the exception says
        print(f"kerasrec {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kerasrec {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of kerasrec's, not the user's: say so in one line
        if os.environ.get("KERASREC_TRACEBACK"):
            raise
        message = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
        print(f"kerasrec {args.command}: internal error ({message}); please report it, "
              "with the command. KERASREC_TRACEBACK=1 shows the traceback", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
