"""The ``mstheory`` command: listing, verifying, reporting, and refusing bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from proofs import report as report_mod
from proofs.catalogue import ENTRIES
from proofs.cli import TABLE_WIDTH, main
from proofs.data import have_reference_data
from proofs.obligation import all_obligations


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_list_shows_every_entry_with_coverage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "list")
    assert status == 0
    lines = out.splitlines()
    for entry in ENTRIES:
        line = next(x for x in lines if x.split()[0] == entry.id)
        assert "obligation" in line or "not yet covered" in line
    assert lines[-1].endswith(f"of {len(ENTRIES)} entries covered")


def test_verify_one_theorem_shows_proved_with_method(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "verify", "--only", "T4.2", "--jobs", "1")
    proved = [x for x in out.splitlines() if x.startswith("T4.2/") and "PROVED" in x]
    assert len(proved) >= 3 and all("Z3" in x or "SymPy" in x for x in proved)
    assert "reached their expected verdict" in out
    # Without reference data the data obligations are UNKNOWN: no pass.
    assert status == (0 if have_reference_data() else 1)


def test_verify_one_obligation(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys, "verify", "--only", "D4.4/series-below-weakest", "-j", "1"
    )
    assert status == 0
    assert "1 of 1 obligations" in out


def test_the_table_says_how_much_a_checked_verdict_searched(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(
        capsys,
        "verify",
        "--only",
        "D1.6/composition-of-services",
        "T2.3/breaker-lowers-failure-probability",
        "-j",
        "1",
    )
    assert status == 0
    text = " ".join(out.split())  # the last column may wrap onto more lines
    assert re.search(r"Hypothesis: 1-5 services; \d+ examples", text), out
    assert re.search(r"overlap; \d+ trials", text), out
    assert all(len(line) <= TABLE_WIDTH for line in out.splitlines()), out


def test_only_given_twice_selects_both(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys,
        "verify",
        "--only",
        "D4.4/series-below-weakest",
        "--only",
        "D4.4/series-below-weakest-bounded",
        "-j",
        "1",
    )
    assert status == 0
    assert "2 of 2 obligations" in out


def test_verify_fails_when_an_obligation_misses(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Without its reference data the obligation is UNKNOWN, which is no pass.
    monkeypatch.setenv("MSTHEORY_DATA", str(tmp_path / "absent"))
    status, out, _ = run(
        capsys, "verify", "--only", "D4.4/published-figures", "-j", "1"
    )
    assert status == 1
    assert "UNKNOWN" in out and "MISS" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["verify", "--only", "T9.9"], "no catalogue entry 'T9.9'"),
        (["verify", "--only", "banana"], "no catalogue entry 'banana'"),
        (
            ["verify", "--only", "T4.2/no-such-thing"],
            "no obligation 'T4.2/no-such-thing'",
        ),
        (["verify", "--profile", "fast"], "unknown profile 'fast'"),
        (["verify", "--jobs", "0"], "must be at least 1"),
        (["frobnicate"], "invalid choice"),
        (["report", "--out", ""], "may not be empty"),
        (["check-history", "--model", "kv", "--budget", "-1", "x"], "--budget"),
        (["check-history", "--model", "kv", "--budget", "0", "x"], "--budget"),
        (["check-history", "--model", "kv", "--budget", "nan", "x"], "--budget"),
        (["check-history", "--model", "kv", "--budget", "inf", "x"], "--budget"),
        (["verify", "--only", "/x"], "malformed obligation id '/x'"),
        (["verify", "--only", "T4.2/"], "malformed obligation id 'T4.2/'"),
        (
            ["registry", "serve", "--port", "0", "--token", ""],
            "--token may not be empty",
        ),
        (
            ["registry", "serve", "--port", "0", "--token", "s3cret\n"],
            "--token: character 6 (U+000A) is a control character",
        ),
        (
            ["registry", "serve", "--port", "0", "--token", "s3 cret"],
            "--token: character 2 (U+0020) is whitespace",
        ),
    ],
)
def test_bad_input_gets_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert message in err
    assert "Traceback" not in err + out


def test_unwritable_output_directory_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    status, out, err = run(capsys, "report", "--out", str(blocker / "reports"))
    assert status == 2
    assert "cannot write the report" in err and len(err.strip().splitlines()) == 1
    assert out == "", "no obligation should run before the directory is checked"


def test_console_script_prints_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "proofs", "verify", "--only", "X1.1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("mstheory: error:")
    assert "Traceback" not in done.stderr


def test_report_writes_json_and_markdown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = run(
        capsys,
        "report",
        "--out",
        str(tmp_path),
        "--only",
        *(o.id for o in all_obligations() if o.entry == "D4.4" and not o.needs_data),
        "-j",
        "1",
    )
    assert status == 0, out
    doc = json.loads((tmp_path / "conformance.json").read_text())
    assert {c["id"] for c in doc["catalogue"]} == {e.id for e in ENTRIES}
    assert any(c["coverage"] == "not yet covered" for c in doc["catalogue"]) or all(
        c["obligations"] for c in doc["catalogue"]
    )
    for item in doc["obligations"]:
        for key in (
            "id",
            "theorem",
            "reading",
            "method",
            "expected",
            "verdict",
            "bounds",
        ):
            assert key in item, key
        assert item["theorem"] == "D4.4"
        assert item["verdict"] in ("PROVED", "CHECKED")
    assert doc["mutants"], "faulty variants of the subject must be listed"
    for item in doc["mutants"]:
        assert {"id", "defect", "caught_by"} <= set(item)
    md = (tmp_path / "conformance.md").read_text()
    for entry in ENTRIES:
        assert f"### {entry.id} " in md
    assert "Not yet covered" in md or all(c["obligations"] for c in doc["catalogue"])


def test_report_is_the_same_bytes_whatever_the_number_of_workers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert run(capsys, "report", "--out", str(one), "--only", "D1.6", "-j", "1")[0] == 0
    assert run(capsys, "report", "--out", str(two), "--only", "D1.6", "-j", "2")[0] == 0
    for name in ("conformance.json", "conformance.md"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name


def test_failed_write_leaves_the_old_report_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conformance.json").write_text("old")
    doc = {
        "title": "t",
        "profile": "ci",
        "summary": {},
        "catalogue": [],
        "obligations": [],
        "mutants": [],
    }
    monkeypatch.setattr(report_mod, "render_markdown", _raise_oserror)
    with pytest.raises(report_mod.ReportError):
        report_mod.write(doc, tmp_path)
    assert (tmp_path / "conformance.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conformance.json"]


def _raise_oserror(doc: object) -> str:
    raise OSError(28, "No space left on device")


def test_a_reader_that_goes_away_gets_no_traceback() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "proofs", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the command writes its first line
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) != 0
    assert "Traceback" not in err, err


def test_registry_token_may_come_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A token no header can carry is refused whichever way it arrives, which
    # shows the variable is read (a good one would start a server).
    monkeypatch.setenv("MSTHEORY_REGISTRY_TOKEN", "s3 cret")
    status, _, err = run(capsys, "registry", "serve", "--port", "0")
    assert status == 2
    assert "--token: character 2 (U+0020) is whitespace" in err


def test_a_single_search_is_counted_in_the_singular() -> None:
    from proofs.cli import _searched_text

    assert _searched_text({"cases": 1, "histories over two keys": 1}) == (
        "1 case, 1 history over two keys"
    )
    assert _searched_text({"examples": 200}) == "200 examples"
