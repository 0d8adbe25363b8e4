"""Scale scenarios (catalogue kind `scale`) in the bench's report: their JSON has its own
shape and their section of docs/performance.md is written by hand, so the generated report
neither reads nor lists them, while the other scenarios' results are read as before."""

from __future__ import annotations

import json
from pathlib import Path

from bench.catalogue import SCENARIOS
from bench.report import load, render


def test_the_report_leaves_a_scale_scenarios_results_to_the_hand_written_section(
    tmp_path: Path,
) -> None:
    assert SCENARIOS["engagement_scale"].kind == "scale"
    assert not SCENARIOS["engagement_scale"].targets  # judged by hand
    (tmp_path / "engagement_scale.json").write_text(
        json.dumps({"scenario": "engagement_scale", "members": 300, "rebuild": {}})
    )
    assert "No results yet" in render(load(tmp_path), "hand", None)
    other = tmp_path / "metrics_year.json"
    other.write_text(json.dumps({"scenario": "metrics_year", "runs": []}))
    assert set(load(tmp_path)) == {"metrics_year"}
