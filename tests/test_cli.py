from __future__ import annotations

import json
import subprocess
import sys

import pytest

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
