r"""A small report document that uses every way of showing a result.

It is built by hand, not by running obligations, so that the renderers can be
tested (and looked at) in a second: two entries, an obligation per form of
counterexample or evidence (:mod:`proofs.verdict`), a plain dict, a nested
value, a missed expectation, a figure and an omitted figure. Nothing in it is
a claim about the theory.
"""

from __future__ import annotations

from typing import Any

from proofs.verdict import (
    history_form,
    measurements_form,
    model_form,
    steps_form,
    table_form,
)


def _obligation(
    ob_id: str,
    verdict: str,
    *,
    expected: str | None = None,
    counterexample: Any = None,
    evidence: Any = None,
    formal: str = "",
) -> dict[str, Any]:
    return {
        "id": ob_id,
        "theorem": ob_id.split("/", 1)[0],
        "reading": f"Sample reading of {ob_id}, with an inline formula $x_1 \\le y$.",
        "formal": formal,
        "method": "Z3",
        "subject": "spec.quality",
        "path": "spec/quality.py",
        "expected": expected or verdict,
        "verdict": verdict,
        "met": expected in (None, verdict),
        "bounds": "n = 1..3",
        "searched": {},
        "how": "Z3, sample",
        "counterexample": counterexample,
        "evidence": evidence,
        "reason": "sample: the solver gave up" if verdict == "UNKNOWN" else "",
        "assumptions": ["independent failures"],
        "detail": "A detail paragraph.",
    }


def sample_document() -> dict[str, Any]:
    obligations = [
        _obligation(
            "T9.1/model",
            "REFUTED",
            counterexample=model_form({"A": "1/2", "n": 3}, note="Any A works."),
            formal=r"\forall n \ge 1:\ \frac{a}{b} \le \prod_{i=1}^{n} a_i",
        ),
        _obligation(
            "T9.1/steps",
            "REFUTED",
            counterexample=steps_form(
                [
                    "register instance a",
                    {"action": "discover orders", "result": [], "state": "rev 1"},
                ],
                failure="a registered instance was not discovered",
                initial={"instances": []},
            ),
        ),
        _obligation(
            "T9.1/history",
            "REFUTED",
            counterexample=history_form(
                [
                    {
                        "process": 0,
                        "op": "write(1)",
                        "start": 0,
                        "end": 2,
                        "result": "ok",
                    },
                    {"process": 1, "op": "read()", "start": 1, "end": 3, "result": "0"},
                    {"process": 1, "op": "read()", "start": 4, "end": None},
                ],
                note="The read that starts after the write returns sees 0.",
            ),
        ),
        _obligation(
            "T9.1/table",
            "REFUTED",
            counterexample=table_form(["x", "f(x)"], [[1, 2], [2, 5]]),
        ),
        _obligation(
            "T9.1/measured",
            "CHECKED",
            evidence=measurements_form(
                ["A", "n", "measured", "low", "high"],
                [[0.9, 2, 0.99, 0.985, 0.994]],
                confidence="95% Wilson interval",
                figure="availability-redundancy",
            ),
        ),
        _obligation("T9.1/plain", "REFUTED", counterexample={"x": 1, "y": [1, 2]}),
        _obligation(
            "T9.1/nested",
            "REFUTED",
            counterexample={"deep": {"a": [{"b": list(range(40))}]}},
        ),
        _obligation("T9.1/rows", "REFUTED", counterexample=[{"k": 1}, {"k": 2}]),
        _obligation("T9.1/list", "REFUTED", counterexample=["first", "second"]),
        _obligation("T9.1/missed", "UNKNOWN", expected="PROVED"),
    ]
    catalogue = [
        {
            "id": "D9.1",
            "kind": "definition",
            "title": "Sample definition",
            "section": "9",
            "statement": r"\mathrm{Sample}: S \times E \rightarrow \mathcal{P}(E)",
            "paraphrase": "Not yet covered, on purpose.",
            "readings": [],
            "corrected": {
                "as_written": "ambiguous",
                "statement": "Nothing backs a correction yet.",
                "formal": "",
                "backed_by": [],
            },
            "coverage": "not yet covered",
            "status": "not yet covered",
            "expected_met": {"all": False, "reached": 0, "run": 0},
            "obligations": [],
            "lives_in": [],
        },
        {
            "id": "T9.1",
            "kind": "theorem",
            "title": "Sample theorem",
            "section": "9",
            "statement": r"\forall i, j:\ |x_i - x_j| \le \epsilon",
            "paraphrase": "Every form of counterexample, once.",
            "readings": ["A reading with $1 - (1 - A)^n$ inline."],
            "corrected": {
                "as_written": "false",
                "statement": "What holds is the bound with $\\epsilon = 1$.",
                "formal": r"\forall i, j:\ |x_i - x_j| \le 1",
                "backed_by": ["T9.1/measured"],
            },
            "coverage": f"covered by {len(obligations)} obligations",
            "status": "some expected verdicts missed",
            "expected_met": {
                "all": False,
                "reached": len(obligations) - 1,
                "run": len(obligations),
            },
            "obligations": [o["id"] for o in obligations],
            "lives_in": ["spec/quality.py"],
        },
    ]
    return {
        "title": "Microservice theory: sample report",
        "profile": "ci",
        "profile_settings": {"examples": 200, "derandomize": True},
        "summary": {
            "entries": 2,
            "entries_covered": 1,
            "obligations": len(obligations),
            "expected_reached": len(obligations) - 1,
            "verdicts": {"PROVED": 0, "REFUTED": 8, "CHECKED": 1, "UNKNOWN": 1},
            "faulty_variants": 1,
            "faulty_variants_caught": 1,
        },
        "sections": {"9": "Samples"},
        "catalogue": catalogue,
        "obligations": obligations,
        "mutants": [
            {
                "id": "sample-variant",
                "defect": "A defect, caught.",
                "subject": "spec.quality",
                "caught_by": ["T9.1/model"],
                "outcomes": {"T9.1/model": "PROVED"},
                "shown": {
                    "obligation": "T9.1/model",
                    "expected": "CHECKED",
                    "verdict": "REFUTED",
                    "counterexample": {
                        "clients": [
                            ["client 0: write 1", "client 0: read"],
                            ["client 1: write 2"],
                        ],
                        "schedule": "0:1,3:2",
                        "problem": "the read returned 2 after write 1 returned",
                        "replays": True,
                    },
                    "detail": "",
                    "reason": "",
                },
            }
        ],
        "figures": [
            {
                "id": "sample",
                "entry": "T9.1",
                "title": "A sample figure",
                "caption": "A blue rectangle.",
                "file": "figures/sample.svg",
                "alt": "a blue rectangle",
                "note": "",
                "data": table_form(["x"], [[1]]),
            },
            {
                "id": "omitted",
                "entry": "T9.1",
                "title": "An omitted figure",
                "caption": "",
                "file": None,
                "alt": "",
                "note": "This figure is omitted: its inputs are not in this build.",
                "data": None,
            },
        ],
    }
