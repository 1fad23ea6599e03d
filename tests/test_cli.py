from __future__ import annotations

import json
import subprocess
import sys

import pytest

import kerasrec as kr
from kerasrec.cli import main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "info" in capsys.readouterr().out


def test_info_on_bundled_sample(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for words in ("movies", "users", "ratings", "sparsity", "Genres", "Rating histogram",
                  "1921-2018"):
        assert words in out


def test_info_json(capsys, sample):
    assert main(["info", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ratings"] == sample.n_ratings and summary["users"] == sample.n_users


def test_bad_input_one_line_and_exit_2(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.xlsx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.xlsx" in err[0] and "no such file" in err[0]


def test_sample_command_writes_loadable_data(tmp_path, capsys):
    import kerasrec as kr

    out = tmp_path / "s.xlsx"
    assert main(["sample", str(out), "--users", "20", "--movies", "30", "--ratings", "200"]) == 0
    assert kr.load_movies(out).n_ratings == 200
    assert main(["sample", str(tmp_path / "pq"), "--users", "20", "--movies", "30",
                 "--ratings", "200"]) == 0
    assert kr.load_movies(tmp_path / "pq").n_ratings == 200


def test_console_script_is_installed():
    done = subprocess.run([sys.executable, "-m", "kerasrec.cli", "--version"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "kerasrec" in done.stdout


def test_import_does_not_load_tensorflow():
    code = "import sys, kerasrec; kerasrec.load_sample(); print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False"


# --- train, evaluate, recommend, similar, explain, export, plot on the sample -------------

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--epochs", "4", "--out", str(out), "--quiet"]) == 0
    return out


def test_train_writes_a_complete_run(run_dir):
    names = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    assert {"run.json", "metrics.json", "history.csv", "predictions.csv", "data/train.parquet",
            "data/test.parquet", "model/model.keras", "model/pipeline.json",
            "model/scores.npz", "plots/training_curves.png", "plots/predicted_vs_true.png",
            "plots/rating_distribution.png", "plots/ratings_per_user.png"} <= names
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["config"]["model"] == "hybrid" and meta["config"]["data"].endswith(".xlsx")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    test = __import__("pandas").read_parquet(run_dir / "data" / "test.parquet")
    trivial = float(((test["rating"] - test["rating"].mean()) ** 2).mean() ** 0.5)
    assert metrics["rmse"] < trivial - 0.1
    # the headline ranking figures are full-catalog lists, beside the ratings
    assert 0 < metrics["watched_recall@10"] < 1 and metrics["coverage@10"] > 10
    for png in run_dir.glob("plots/*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ratings_out_of_ten_train_evaluate_and_recommend(tmp_path, sample, capsys):
    data, out = tmp_path / "ten", tmp_path / "run"
    data.mkdir()
    sample.products.to_csv(data / "movies.csv", index=False)
    doubled = sample.ratings.assign(rating=sample.ratings["rating"] * 2)
    doubled.to_csv(data / "ratings.csv", index=False)
    doubled.tail(500).to_csv(tmp_path / "later.csv", index=False)
    assert main(["info", str(data), "--rating-range", "1,10"]) == 0
    assert "(scale 1-10)" in capsys.readouterr().out
    assert main(["train", str(data), "--rating-range", "1,10", "--model", "baseline",
                 "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "run.json").read_text())["config"]["rating_range"] == [1.0, 10.0]
    printed = dict(line.split() for line in capsys.readouterr().out.splitlines()
                   if line.startswith("  "))
    assert len(printed["rmse"].split(".")[1]) == 4
    assert len(printed["fit_seconds"].split(".")[1]) == 1  # seconds, not 79.8300
    predictions = __import__("pandas").read_csv(out / "predictions.csv")
    assert predictions["prediction"].between(1, 10).all()
    assert predictions["prediction"].max() > 5  # not clipped to MovieLens' stars
    capsys.readouterr()
    assert main(["evaluate", str(out), str(tmp_path / "later.csv"), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["n_users_liked"] > 0 and 1 < scores["rmse"] < 4
    assert main(["recommend", str(out), "--user", "1"]) == 0
    assert "; ranked by predicted stars;" in capsys.readouterr().out  # the baseline's order
    # the baseline reads no single movies: recent movies are refused, not ignored
    movie, other = (str(m) for m in sample.products["movieId"].iloc[:2])
    assert main(["explain", str(out), "--user", "1", "--movie", movie, "--recent", other]) == 2
    assert "has no recent; models that do: " in capsys.readouterr().err


def test_train_with_the_large_data_settings(tmp_path):
    """The guide's 25M recipe, on a Parquet sample streamed by ``kerasrec sample``."""
    data, out = tmp_path / "big", tmp_path / "run"
    assert main(["sample", str(data), "--users", "300", "--movies", "400", "--ratings",
                 "30000"]) == 0
    assert main(["train", str(data), "--out", str(out), "--epochs", "3", "--optimizer",
                 "lazy_adam", "--batch-size", "1024", "--learning-rate", "4e-3", "--set",
                 "ids_only=true", "--set", "neighbours=[]", "--set", "user_history=false",
                 "--set", "session_bias=false", "--quiet"]) == 0
    meta = json.loads((out / "run.json").read_text())
    assert meta["config"]["optimizer"] == "lazy_adam"
    rec = kr.Recommender.load(out / "model")
    assert type(rec.model_.keras_model.optimizer).__name__ == "LazyAdam"
    assert "item_features" not in [t.name for t in rec.model_.keras_model.inputs]  # a table inside
    test = __import__("pandas").read_parquet(out / "data" / "test.parquet")
    trivial = float(((test["rating"] - test["rating"].mean()) ** 2).mean() ** 0.5)
    assert json.loads((out / "metrics.json").read_text())["rmse"] < trivial - 0.1


def test_evaluate_writes_the_shared_scorer_format(run_dir, tmp_path, capsys):
    from tests.conftest import SCORER

    out = tmp_path / "pred.csv"
    assert main(["evaluate", str(run_dir), "--predictions", str(out), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    recorded = json.loads((run_dir / "metrics.json").read_text())
    for key in ("rmse", "watched_recall@10", "liked_ndcg@10"):
        assert scores[key] == pytest.approx(recorded[key]), key
    import pandas as pd

    frame = pd.read_csv(out)
    assert list(frame.columns) == ["userId", "movieId", "rating", "prediction"]
    if SCORER.is_file():
        shared = json.loads(subprocess.run([sys.executable, str(SCORER), str(out)],
                                           capture_output=True, text=True).stdout)
        assert shared["rmse"] == pytest.approx(scores["rmse"], abs=1e-9)
        assert shared["ndcg@10"] == pytest.approx(scores["rerank_ndcg@10"], abs=1e-9)


def test_evaluate_prints_one_aligned_column_of_scores(run_dir, capsys):
    assert main(["evaluate", str(run_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    scores = dict(line.split() for line in lines)
    recorded = json.loads((run_dir / "metrics.json").read_text())
    assert float(scores["rmse"]) == pytest.approx(recorded["rmse"], abs=5e-5)
    # counts read as counts, rates to four decimals, every value in one column
    assert scores["coverage@10"] == f"{recorded['coverage@10']:,}"
    assert len(scores["watched_recall@10"].split(".")[1]) == 4
    assert len({line.index(value) for line, value in zip(lines, scores.values())}) == 1


def test_recommend_similar_explain_print_tables(run_dir, capsys):
    import kerasrec as kr

    rec = kr.Recommender.load(run_dir / "model")
    user = int(rec.pipeline_.user_vocabulary_[0])
    assert main(["recommend", str(run_dir), "--user", str(user), "--k", "4", "--weekend"]) == 0
    out = capsys.readouterr().out
    top = rec.recommend(user, k=4, context={"daytime": 0, "weekend": 1})
    assert f"top 4 for user {user}; ranked by how likely they are to watch each" in out
    for title in top["title"]:
        assert title[:40] in out
    movie = int(top["movieId"].iloc[0])
    assert main(["similar", str(run_dir), "--movie", str(movie), "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert all(str(m) in out for m in rec.similar_items(movie, k=3)["movieId"])
    assert main(["explain", str(run_dir), "--user", str(user), "--movie", str(movie),
                 "--timestamp", "1500000000"]) == 0
    out = capsys.readouterr().out
    parts = rec.explain(user, movie, context=1_500_000_000)
    assert f"{parts.sum():.3f} stars" in out and "item_neighbours" in out
    relevance = rec.explain_relevance(user, movie)
    assert f"relevance (what lists rank by): {relevance.sum():.3f}" in out
    if rec.model_.supports("recent"):
        because = rec.because(user, movie)
        assert f"because you watched: {because['title'].iloc[0]}" in out
    else:  # the weights chosen on validation gave the recent movies no part in lists
        assert "because you watched" not in out


def test_recommend_after_recent_movies(tmp_path, capsys):
    """`--recent` on a run whose lists use the sequence branch (users whose taste
    drifts, trained with --split temporal: weights chosen on each user's latest ratings)."""
    import kerasrec as kr
    from kerasrec.data.write import write_parquet
    from tests.conftest import drifting_tastes

    write_parquet(drifting_tastes(), tmp_path / "drift")
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "drift"), "--split", "temporal", "--epochs", "15",
                 "--batch-size", "64", "--learning-rate", "0.005", "--set", "neighbours=[]",
                 "--set", "retrieval_weight=0.5", "--out", str(run), "--quiet"]) == 0
    rec = kr.Recommender.load(run / "model")
    assert rec.model_.chosen["validation_cut"] == "temporal" and rec.model_.supports("recent")
    user = int(rec.pipeline_.user_vocabulary_[0])
    recent = [int(m) for m in rec.catalog_.movie_ids[:3]]
    capsys.readouterr()
    argv = ["recommend", str(run), "--user", str(user), "--k", "5", "--recent",
            ",".join(map(str, recent))]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "after 3 recent movies" in out
    top = rec.recommend(user, k=5, recent=recent)
    assert top["movieId"].tolist() != rec.recommend(user, k=5)["movieId"].tolist()
    for title in top["title"]:
        assert title[:40] in out
    # explain reads the same recent movies: why the first one now ranks first, and which
    # movies (the recent ones among them) put it there; a new user's too
    first = int(top["movieId"].iloc[0])
    for who in (user, 10**9):
        argv = ["explain", str(run), "--user", str(who), "--movie", str(first), "--recent",
                ",".join(map(str, recent))]
        assert main(argv) == 0
        out = capsys.readouterr().out
        relevance = rec.explain_relevance(who, first, recent=recent)
        assert relevance.sum() != pytest.approx(rec.explain_relevance(who, first).sum())
        assert (f"relevance (what lists rank by, after 3 recent movies): "
                f"{relevance.sum():.3f}") in out
        because = rec.because(who, first, recent=recent)
        assert f"because you watched: {because['title'].iloc[0]}" in out
        if who != user:
            assert set(because["movieId"]) <= set(recent)


def test_export_and_plot(run_dir, tmp_path, capsys):
    assert main(["export", str(run_dir), "--out", str(tmp_path / "served")]) == 0
    assert (tmp_path / "served" / "1" / "saved_model.pb").is_file()
    assert main(["plot", str(run_dir), "--out", str(tmp_path / "p")]) == 0
    assert len(list((tmp_path / "p" / "plots").glob("*.png"))) == 4


@pytest.mark.parametrize("argv, words", [
    (["recommend", "{run}"], "required: --user"),
    (["recommend", "{run}", "--user", "1", "--recent", "318,Heat"], "expected movieIds"),
    (["recommend", "{run}", "--user", "1", "--recent", "318,,296"], "expected movieIds"),
    (["recommend", "{run}", "--user", "1", "--recent", ","], "expected movieIds"),
    (["explain", "{run}", "--user", "1", "--movie", "1", "--recent", "318,,296"],
     "expected movieIds"),
    (["recommend", "{tmp}/nowhere", "--user", "1"], "not a run directory"),
    (["similar", "{run}", "--movie", "123456789"], "not in the catalog"),
    (["train", "--set", "mf_dim"], "KEY=VALUE"),
    (["train", "--model", "transformer", "--out", "{tmp}/r"], "invalid choice: 'transformer'"),
    (["train", "{tmp}/missing.xlsx", "--out", "{tmp}/r"], "missing.xlsx"),
    (["export", "{run}", "--out", "{tmp}/s", "--version", "0"], "positive whole number"),
])
def test_bad_arguments_exit_nonzero_with_one_line(run_dir, tmp_path, argv, words):
    argv = [a.replace("{run}", str(run_dir)).replace("{tmp}", str(tmp_path)) for a in argv]
    done = subprocess.run([sys.executable, "-m", "kerasrec.cli", *argv], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if line.startswith("kerasrec")]
    assert len(ours) == 1 and words in ours[0], done.stderr[-1500:]
    assert not (tmp_path / "r").exists()


def _broken_run(run_dir, tmp_path, edit):
    import shutil

    copy = tmp_path / "broken"
    shutil.copytree(run_dir, copy)
    edit(copy)
    return copy


# Every subcommand, with arguments a careless or hostile user passes.
HOSTILE = [
    ["info", "{tmp}/nowhere.xlsx"],
    ["info", "{tmp}/notes.txt"],
    ["sample", "{tmp}/s.xlsx", "--users", "0"],
    ["sample", "{tmp}/s.xlsx", "--ratings", "-5"],
    ["sample", "{tmp}/s.xlsx", "--seed", "-1"],
    ["sample", "{tmp}/s.xlsx", "--ratings", str(10 ** 12)],
    ["sample", "{tmp}"],
    ["train", "--epochs", "0", "--out", "{tmp}/r"],
    ["train", "--batch-size", "-1", "--out", "{tmp}/r"],
    ["train", "--learning-rate", "-1", "--out", "{tmp}/r"],
    ["train", "--test-size", "1.5", "--out", "{tmp}/r"],
    ["train", "--seed", str(2 ** 40), "--out", "{tmp}/r"],
    ["train", "--model", "svdpp", "--out", "{tmp}/r"],
    ["train", "--set", "mf_dimm=3", "--out", "{tmp}/r"],
    ["train", "--set", "mf_dim=abc", "--out", "{tmp}/r"],
    ["train", "--set", "l2=-1", "--out", "{tmp}/r"],
    ["train", "--timezone", "Mars/Olympus", "--out", "{tmp}/r"],
    ["train", "--rating-range", "10,1", "--out", "{tmp}/r"],
    ["train", "--rating-range", "1-10", "--out", "{tmp}/r"],
    ["train", "--rating-range", "1,inf", "--out", "{tmp}/r"],
    ["train", "--rating-range", "1,4", "--out", "{tmp}/r"],
    ["info", "--rating-range", "1,4"],
    ["train", "{tmp}/notes.txt", "--out", "{tmp}/r"],
    ["train", "--out", "{tmp}/notes.txt"],
    ["evaluate", "{run}", "--k", "0"],
    ["evaluate", "{run}", "{tmp}/nowhere.csv"],
    ["evaluate", "{tmp}/nowhere"],
    ["evaluate", "{broken}"],
    ["recommend", "{run}", "--user", str(2 ** 70)],
    ["recommend", "{run}", "--user", "1", "--k", "-3"],
    ["recommend", "{run}", "--user", "1", "--timestamp", str(2 ** 70)],
    ["recommend", "{run}", "--user", "1", "--timestamp", "-5"],
    ["recommend", "{run}", "--user", "one"],
    ["recommend", "{broken}", "--user", "1"],
    ["similar", "{run}", "--movie", str(2 ** 70)],
    ["similar", "{run}", "--movie", "1", "--k", "0"],
    ["explain", "{run}", "--user", "1", "--movie", str(2 ** 70)],
    ["explain", "{run}", "--user", str(-2 ** 70), "--movie", "1"],
    ["explain", "{run}", "--user", "1", "--movie", "987654321"],
    ["export", "{run}", "--out", "{tmp}/served", "--version", "-1"],
    ["export", "{run}", "--out", "{tmp}/notes.txt"],
    ["export", "{broken}", "--out", "{tmp}/served"],
    ["plot", "{run}", "--out", "{tmp}/notes.txt"],
    ["plot", "{broken}"],
]


@pytest.mark.parametrize("argv", HOSTILE, ids=lambda a: " ".join(a)[:60])
def test_hostile_arguments_give_one_line_and_exit_2(run_dir, tmp_path, capsys, argv):
    (tmp_path / "notes.txt").write_text("my own notes")
    broken = _broken_run(run_dir, tmp_path, lambda r: (r / "run.json").write_text("[1, 2]"))
    argv = [a.replace("{run}", str(run_dir)).replace("{tmp}", str(tmp_path))
            .replace("{broken}", str(broken)) for a in argv]
    try:
        status = main(argv)
    except SystemExit as exit:  # argparse's own refusals
        status = exit.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    # Progress lines ("  loading ...") may come first; the error is one line of its own.
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("  ")]
    assert len(lines) == 1 and lines[0].startswith(f"kerasrec {argv[0]}: error: "), err
    assert (tmp_path / "notes.txt").read_text() == "my own notes"


@pytest.mark.parametrize("damage", [
    lambda r: (r / "data" / "test.parquet").write_bytes(b"PAR1 not really"),
    lambda r: (r / "data" / "test.parquet").write_bytes(
        (r / "model" / "catalog.parquet").read_bytes()),
], ids=["truncated", "another table"])
def test_a_damaged_run_ratings_file_is_named(run_dir, tmp_path, capsys, damage):
    broken = _broken_run(run_dir, tmp_path, damage)
    assert main(["evaluate", str(broken)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(broken / "data" / "test.parquet") in err[0], err


def test_commands_print_no_tensorflow_lines(run_dir):
    """A command that loads the model (and so TensorFlow) shows only kerasrec's output."""
    from tests.test_quiet import TF_LINE

    import os

    import pandas as pd

    movie = int(pd.read_parquet(run_dir / "model" / "catalog.parquet")["movieId"].iloc[0])
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-m", "kerasrec.cli", "explain", str(run_dir),
                           "--user", "1", "--movie", str(movie)], capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not TF_LINE.search(done.stderr) and done.stderr.strip() == "", done.stderr[-2000:]


def test_every_option_has_help_and_defaults_are_shown():
    from kerasrec.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, __import__("argparse")
                                                             ._SubParsersAction))
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if action.dest == "help":
                continue
            assert action.help, f"kerasrec {name} {action.option_strings or action.dest}"
        text = sub.format_help()
        for action in sub._actions:
            if action.option_strings and action.default not in (None, False, "==SUPPRESS=="):
                assert f"(default: {action.default})" in " ".join(text.split()), \
                    (name, action.dest)


def test_python_dash_m_kerasrec():
    done = subprocess.run([sys.executable, "-m", "kerasrec", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("kerasrec ")


def test_recommend_filters_and_its_header_names_the_context(run_dir, capsys):
    assert main(["recommend", str(run_dir), "--user", "1", "--k", "4", "--genre", "comedy",
                 "--years", "1990-2005", "--timestamp", "1700000000"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("top 4 for user 1; ranked by how likely they are to watch each; "
                      "context: 2023-11-14 22:13 UTC: night, weekday")
    rows = out[2:]
    assert len(rows) == 4 and all("Comedy" in row for row in rows)
    with pytest.raises(SystemExit):
        main(["recommend", str(run_dir), "--user", "1", "--years", "nineties"])
    assert "FIRST-LAST" in capsys.readouterr().err
