"""The report: one JSON source, two pages, figures, and the same bytes every run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from proofs import figures, report
from proofs.catalogue import ENTRIES
from proofs.obligation import all_mutants, all_obligations
from proofs.profiles import get_profile
from proofs.render import blocks as bl
from proofs.render import html as html_mod
from proofs.render.mathml import FormulaError, split_inline, to_mathml
from proofs.render.model import ReportView
from proofs.render.sample import sample_document
from proofs.runner import MutantResult, run_mutants, run_obligations, select
from proofs.verdict import (
    Verdict,
    VerdictError,
    history_form,
    steps_form,
    table_form,
)

ROOT = Path(__file__).resolve().parent.parent

# A few quick obligations: enough to build a real document in seconds.
QUICK = ["T4.2/redundancy-increasing", "T4.2/correlated-failures"]


@pytest.fixture(scope="module")
def real_document() -> dict[str, object]:
    profile = get_profile("ci")
    obligations, _ = select(QUICK)
    results = run_obligations(obligations, profile)
    variants = run_mutants(profile, obligations)
    return report.build(profile, results, variants, all_obligations())


# Formulas --------------------------------------------------------------------


def test_every_formula_of_the_catalogue_and_obligations_becomes_mathml() -> None:
    formulas = [e.statement for e in ENTRIES]
    formulas += [
        e.correction.formal for e in ENTRIES if e.correction and e.correction.formal
    ]
    formulas += [ob.formal for ob in all_obligations() if ob.formal]
    for latex in formulas:
        markup = to_mathml(latex, display=True)
        assert markup.startswith("<math") and 'display="block"' in markup


def test_a_command_the_converter_does_not_know_is_refused() -> None:
    with pytest.raises(FormulaError, match=r"\\frobnicate"):
        to_mathml(r"\frobnicate{x}")


def test_arg_max_is_rewritten_not_left_as_source() -> None:
    assert "\\arg" not in to_mathml(r"\arg\max_i w_i")


def test_inline_formulas_are_found_but_dollar_words_are_not() -> None:
    assert split_inline("a $x$ b") == [("text", "a "), ("math", "x"), ("text", " b")]
    assert split_inline("set $CI and $HOME") == [("text", "set $CI and $HOME")]
    assert split_inline("costs $ 5 $") == [("text", "costs $ 5 $")]


# Forms -----------------------------------------------------------------------


def test_forms_refuse_what_a_reader_could_not_follow() -> None:
    with pytest.raises(VerdictError, match="step 1"):
        steps_form([{"result": 1}], failure="x")
    with pytest.raises(VerdictError, match="lacks start"):
        history_form([{"process": 0, "op": "read()"}])
    with pytest.raises(VerdictError, match="row 1 has 1 values for 2 columns"):
        table_form(["a", "b"], [[1]])


def test_plain_values_are_shown_by_their_shape() -> None:
    assert isinstance(bl.present({"a": 1})[0], bl.Table)
    rows = bl.present([{"a": 1}, {"a": 2, "b": 3}])[0]
    assert isinstance(rows, bl.Table)
    assert rows.columns == ("a", "b") and rows.rows[0] == ("1", "")
    assert isinstance(bl.present(["x", "y"])[0], bl.Steps)
    assert isinstance(bl.present({"a": {"b": list(range(50))}})[0], bl.Listing)
    assert bl.present(None) == []
    trace = bl.present({"history": ["a" * 50, "b" * 50], "why": "c"})
    assert [type(b).__name__ for b in trace] == ["Paragraph", "Steps", "Table"]


def test_a_malformed_form_falls_back_to_its_json() -> None:
    shown = bl.present({"kind": "history", "operations": "not a list"})
    assert isinstance(shown[0], (bl.Table, bl.Listing))


def test_a_history_is_a_timeline_with_one_lane_per_process() -> None:
    form = history_form(
        [
            {"process": "p", "op": "w(1)", "start": 0, "end": 2, "result": "ok"},
            {"process": "q", "op": "r()", "start": 1, "end": None},
        ]
    )
    (timeline,) = bl.present(form)
    assert isinstance(timeline, bl.Timeline)
    assert timeline.processes == ("p", "q")
    assert timeline.instants == (0.0, 1.0, 2.0)
    assert timeline.operations[1].end is None


# Pages -----------------------------------------------------------------------


def _sample_pages() -> tuple[str, str]:
    doc = sample_document()
    view = ReportView(doc)
    from proofs.render import markdown as md

    return md.render(view), html_mod.render(view, {"figures/sample.svg": b"<svg/>"})


def test_markdown_shows_every_form_for_a_reader() -> None:
    text, _ = _sample_pages()
    assert "1. register instance a" in text
    assert "2. discover orders (result: `[]`; state: `rev 1`)" in text
    assert "**What goes wrong:** a registered instance was not discovered" in text
    assert "| time | process 0 | process 1 |" in text
    assert "Never returned: read() (process 1)." in text
    assert "| variable | value |" in text
    assert "![a blue rectangle](figures/sample.svg)" in text
    assert "This figure is omitted" in text
    assert "**expected PROVED**" in text
    assert "**Not yet covered**" in text


def test_html_is_self_contained() -> None:
    _, page = _sample_pages()
    assert "<script" not in page and "<link" not in page
    for attribute in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert attribute.startswith(("#", "data:")), attribute
    assert "url(" not in page
    assert page.count("<math") == page.count("</math>") > 3


def test_html_shows_every_form_for_a_reader() -> None:
    _, page = _sample_pages()
    assert '<ol class="steps">' in page
    assert 'class="timeline"' in page and "op pending" in page
    assert "<caption>Intervals: 95% Wilson interval.</caption>" in page
    assert 'class="miss">expected PROVED' in page
    assert 'id="variant-sample-variant"' in page
    assert (
        "$" not in re.sub(r"<math.*?</math>", "", page, flags=re.S).split("<body>")[1]
    )


def test_every_in_page_link_has_a_target() -> None:
    _, page = _sample_pages()
    ids = set(re.findall(r'id="([^"]+)"', page))
    for target in re.findall(r'href="#([^"]+)"', page):
        assert target in ids, target


# The real report ---------------------------------------------------------------


def test_document_keeps_its_keys(real_document: dict[str, object]) -> None:
    doc = real_document
    ob = doc["obligations"][0]  # type: ignore[index]
    for key in ("id", "theorem", "reading", "method", "expected", "verdict", "bounds"):
        assert key in ob
    assert {"catalogue", "mutants", "obligations"} <= set(doc)
    m = doc["mutants"][0]  # type: ignore[index]
    assert {"id", "defect", "caught_by"} <= set(m)
    t42 = next(c for c in doc["catalogue"] if c["id"] == "T4.2")  # type: ignore[attr-defined]
    assert t42["lives_in"] == ["impl/client.py", "spec/quality.py"]


def test_a_partial_report_says_what_it_covers(
    real_document: dict[str, object],
) -> None:
    from proofs.render import markdown as md

    summary = real_document["summary"]
    assert summary["partial"] is True  # type: ignore[index]
    assert summary["entries_run"] == ["T4.2"]  # type: ignore[index]
    run = summary["faulty_variants"]  # type: ignore[index]
    caught = summary["faulty_variants_caught"]  # type: ignore[index]
    text = md.render(ReportView(real_document))
    head = text.split("## Contents")[0]
    assert "This is a partial report" in head
    assert "Every check is shown to fail" not in head
    assert "(T4.2)" in head
    assert f"Obligations: 2 of {len(all_obligations())} selected and run" in head
    assert f"Faulty variants: {run} of {len(all_mutants())} run" in head
    assert f"{caught} of the {run} run were caught" in head
    page = html_mod.render(ReportView(real_document), {})
    assert "entries run" in page and "entries decided" not in page

    whole = json.loads(json.dumps(real_document))
    whole["summary"]["partial"] = False
    head = md.render(ReportView(whole)).split("## Contents")[0]
    assert "partial" not in head
    assert "Every check is shown to fail on at least one" in head
    assert "- Definitions and theorems: 35, of which 35 are decided" in head


def test_two_runs_write_the_same_bytes(
    real_document: dict[str, object], tmp_path: Path
) -> None:
    first = report.write(json.loads(json.dumps(real_document)), tmp_path / "one")
    second = report.write(json.loads(json.dumps(real_document)), tmp_path / "two")
    names = [p.relative_to(tmp_path / "one") for p in first]
    assert names == [p.relative_to(tmp_path / "two") for p in second]
    assert "conformance.html" in {str(n) for n in names}
    for name in names:
        a = (tmp_path / "one" / name).read_bytes()
        b = (tmp_path / "two" / name).read_bytes()
        assert a == b, f"{name} differs between two runs"


def test_the_json_describes_every_file_written(
    real_document: dict[str, object], tmp_path: Path
) -> None:
    written = report.write(dict(real_document), tmp_path)
    doc = json.loads((tmp_path / "conformance.json").read_text(encoding="utf-8"))
    drawn = {f["file"] for f in doc["figures"] if f["file"]}
    on_disk = {
        p.relative_to(tmp_path).as_posix() for p in written if "figures" in p.parts
    }
    assert drawn == on_disk
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_report_files_are_readable_by_everyone(
    real_document: dict[str, object], tmp_path: Path
) -> None:
    for path in report.write(dict(real_document), tmp_path):
        assert path.stat().st_mode & 0o444 == 0o444, path
    assert (tmp_path / "figures").stat().st_mode & 0o555 == 0o555


def test_a_stale_figure_is_removed(
    real_document: dict[str, object], tmp_path: Path
) -> None:
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "gone.svg").write_text("<svg/>")
    report.write(dict(real_document), tmp_path)
    assert not (tmp_path / "figures" / "gone.svg").exists()


def test_html_embeds_the_figures_it_lists(
    real_document: dict[str, object], tmp_path: Path
) -> None:
    report.write(dict(real_document), tmp_path)
    page = (tmp_path / "conformance.html").read_text(encoding="utf-8")
    doc = json.loads((tmp_path / "conformance.json").read_text(encoding="utf-8"))
    assert page.count("data:image/svg+xml;base64,") == sum(
        1 for f in doc["figures"] if f["file"]
    )


# Figures ---------------------------------------------------------------------


def test_figures_are_byte_identical_and_name_no_remote_resource(
    tmp_path: Path,
) -> None:
    doc: dict[str, object] = {"obligations": []}
    one = figures.render(doc, tmp_path / "a", only=["availability-redundancy"])
    two = figures.render(doc, tmp_path / "b", only=["availability-redundancy"])
    assert one == two and one[0].file
    a = (tmp_path / "a" / one[0].file).read_bytes()
    assert a == (tmp_path / "b" / one[0].file).read_bytes()
    assert b"<!DOCTYPE" not in a and b"Date" not in a and b"Matplotlib v" not in a


def test_availability_figure_says_when_measured_points_are_missing(
    tmp_path: Path,
) -> None:
    (record,) = figures.render(
        {"obligations": []}, tmp_path, only=["availability-redundancy"]
    )
    assert "not yet available" in record.note


def test_availability_figure_draws_measured_points_when_recorded(
    tmp_path: Path,
) -> None:
    doc = sample_document()
    (record,) = figures.render(doc, tmp_path, only=["availability-redundancy"])
    assert record.note == ""
    assert "T9.1/measured" in record.caption


def test_a_figure_whose_module_is_absent_is_omitted_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(figures, "_available", lambda module: False)
    (record,) = figures.render(
        {"obligations": []}, tmp_path, only=["availability-redundancy"]
    )
    assert record.file is None
    assert "spec.quality is not part of this build" in record.note
    assert not (tmp_path / "figures").exists() or not list(
        (tmp_path / "figures").iterdir()
    )


def test_breaker_timeline_is_recorded_from_the_implementation(tmp_path: Path) -> None:
    pytest.importorskip("impl.breaker", reason="impl.breaker is not in this build")
    (record,) = figures.render({"obligations": []}, tmp_path, only=["breaker-timeline"])
    assert record.file, record.note
    assert "within the bound threshold" in record.caption
    rows = record.data["rows"]
    assert any(r[1] == "closed" and r[3] == "open" for r in rows)


def test_load_spread_separates_bounded_policies_from_random(tmp_path: Path) -> None:
    pytest.importorskip("spec.balancing", reason="spec.balancing is not in this build")
    (record,) = figures.render({"obligations": []}, tmp_path, only=["load-spread"])
    assert record.file, record.note
    final = {
        row[0]: row[2] for row in record.data["rows"] if row[1] == figures.SPREAD_PICKS
    }
    assert final["round robin"] < 1
    assert final["smooth weighted round robin"] < 1
    assert final["random choice"] > 5


# Corrected statements ---------------------------------------------------------


def test_every_entry_says_what_holds_and_which_obligations_back_it() -> None:
    by_id = {ob.id: ob for ob in all_obligations()}
    for entry in ENTRIES:
        c = entry.correction
        assert c is not None, f"{entry.id} has no corrected statement"
        assert c.as_written in {"holds", "false", "ambiguous"}, entry.id
        assert c.statement.strip(), entry.id
        assert c.backed_by, f"{entry.id}: no obligation backs its correction"
        for ob_id in c.backed_by:
            ob = by_id.get(ob_id)
            assert ob is not None, f"{entry.id}: no obligation {ob_id}"
            assert ob.entry == entry.id, f"{ob_id} belongs to {ob.entry}"
            assert ob.expected.value in {"PROVED", "CHECKED"}, ob_id


def test_a_statement_refuted_as_written_is_not_said_to_hold() -> None:
    for entry in ENTRIES:
        refuted_as_written = [
            ob.id
            for ob in all_obligations()
            if ob.entry == entry.id
            and ob.expected.value == "REFUTED"
            and "as-written" in ob.id
        ]
        assert entry.correction is not None
        if refuted_as_written:
            assert entry.correction.as_written != "holds", entry.id


def test_the_corrected_statement_is_in_the_json_and_both_pages(
    real_document: dict[str, object],
) -> None:
    doc = json.loads(json.dumps(real_document))
    t42 = next(c for c in doc["catalogue"] if c["id"] == "T4.2")
    assert t42["corrected"]["as_written"] == "false"
    assert "T4.2/redundancy-increasing" in t42["corrected"]["backed_by"]
    text = report.render_markdown(doc)
    page = report.render_html(doc, {})
    assert text.count("#### Corrected statement") == len(ENTRIES)
    assert page.count("<h4>Corrected statement</h4>") == len(ENTRIES)
    assert "The statement is false as written. The formula needs independent" in text
    section = text.split("### T4.2 ")[1].split("\n### ")[0]
    corrected = section.split("#### Corrected statement")[1]
    assert t42["corrected"]["formal"] in corrected
    assert "Backed by: `T4.2/parallel-generalises-redundant`" in corrected
    # The formula is typeset, and the obligations behind it are linked.
    html_section = page.split('id="t4-2"')[1].split("</article>")[0]
    corrected_html = html_section.split("<h4>Corrected statement</h4>")[1]
    assert "<math" in corrected_html and "\\ge" not in corrected_html
    assert 'href="#t4-2--redundancy-increasing"' in corrected_html
    # An obligation not run for this report is named, not linked.
    assert "<code>T4.2/published-figures</code>" in corrected_html
    assert 'href="#t4-2--published-figures"' not in page


# Faulty variants: the counterexample that caught each -------------------------


def _scheduled_catch() -> tuple[dict[str, object], str]:
    variant = next(m for m in all_mutants() if m.id == "register-overwrites-existing")
    ob_id = "T2.1/registry-linearizable-under-interleavings"
    other = "T2.1/impl-registry-agrees-with-spec"
    schedule_run = {
        "clients": [["client 0: register users a"], ["client 1: register users a"]],
        "schedule": "1:1,2:1",
        "problem": "process 1 register users a -> True cannot be placed",
        "replays": True,
    }
    result = MutantResult(
        variant,
        {
            # The first catching obligation has nothing to show; the second does.
            other: Verdict.unknown("Hypothesis", "a broken check"),
            ob_id: Verdict.refuted(
                "controlled interleavings", schedule_run, searched={"runs": 3}
            ),
        },
        caught_by=(other, ob_id),
    )
    doc = report.build(get_profile("ci"), [], [result], all_obligations())
    return doc, ob_id


def test_each_caught_variant_keeps_one_counterexample_in_the_json() -> None:
    doc, ob_id = _scheduled_catch()
    shown = doc["mutants"][0]["shown"]  # type: ignore[index]
    assert shown["obligation"] == ob_id
    assert shown["expected"] == "CHECKED" and shown["verdict"] == "REFUTED"
    assert shown["counterexample"]["schedule"] == "1:1,2:1"


def test_the_variants_section_shows_the_schedule_and_the_clients_calls() -> None:
    doc, ob_id = _scheduled_catch()
    text = report.render_markdown(doc)
    variants = text.split("## Faulty variants")[-1]
    assert "### Variant `register-overwrites-existing`" in variants
    assert f"Caught by {ob_id}: expected CHECKED, reached REFUTED." in variants
    assert "1. client 0: register users a" in variants
    assert "2. client 1: register users a" in variants
    assert 'the schedule "1:1,2:1"' in variants
    assert "**What goes wrong:** process 1 register users a" in variants
    page = report.render_html(doc, {})
    html_variants = page.split('<section id="variants">')[1]
    assert 'id="variant-register-overwrites-existing-caught"' in html_variants
    assert '<ol class="steps"><li>client 0: register users a</li>' in html_variants
    assert 'class="failure"' in html_variants


def test_a_variant_caught_without_a_counterexample_shows_what_was_reached() -> None:
    variant = all_mutants()[0]
    ob_id = "T4.2/correlated-failures"
    result = MutantResult(
        variant,
        {ob_id: Verdict.checked("Z3", searched={"n": 3}, detail="No shortfall.")},
        caught_by=(ob_id,),
    )
    doc = report.build(get_profile("ci"), [], [result], all_obligations())
    text = report.render_markdown(doc)
    variants = text.split("## Faulty variants")[-1]
    assert "expected REFUTED, reached CHECKED." in variants
    assert "No shortfall." in variants


def test_sample_pages_show_the_variants_counterexample() -> None:
    text, page = _sample_pages()
    assert "### Variant `sample-variant`" in text
    assert 'the schedule "0:1,3:2"' in text
    assert 'id="variant-sample-variant-caught"' in page


# The index -------------------------------------------------------------------


def test_the_index_marks_whether_every_expected_verdict_was_met(
    real_document: dict[str, object],
) -> None:
    doc = json.loads(json.dumps(real_document))
    t42 = next(c for c in doc["catalogue"] if c["id"] == "T4.2")
    assert t42["expected_met"] == {"all": True, "reached": 2, "run": 2}
    d11 = next(c for c in doc["catalogue"] if c["id"] == "D1.1")
    assert d11["expected_met"]["run"] == 0 and not d11["expected_met"]["all"]
    text = report.render_markdown(doc)
    index = text.split("## Index")[1].split("\n## ")[0]
    assert "| id | title | verdicts | all expected met | status |" in index
    t42_row = next(line for line in index.splitlines() if "[T4.2]" in line)
    assert "| yes (2/2) |" in t42_row
    d11_row = next(line for line in index.splitlines() if "[D1.1]" in line)
    assert "| — |" in d11_row
    page = report.render_html(doc, {})
    ids = set(re.findall(r'id="([^"]+)"', page))
    for target in re.findall(r'href="#([^"]+)"', page):
        assert target in ids, target
    html_index = page.split('<section id="index">')[1].split("</section>")[0]
    assert "<th>all expected met</th>" in html_index
    assert '<span class="met">yes (2/2)</span>' in html_index


def test_the_index_marks_an_entry_that_missed_an_expected_verdict() -> None:
    text, page = _sample_pages()
    index = text.split("## Index")[1].split("\n## ")[0]
    row = next(line for line in index.splitlines() if "[T9.1]" in line)
    assert "| **no (9/10)** |" in row
    assert '<span class="miss">no (9/10)</span>' in page
