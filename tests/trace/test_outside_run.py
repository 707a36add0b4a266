"""A data profile's skipped stages: the stages whose every reader records a source of its own are
not part of the recorded run, so the gates neither require their outputs nor call them stale."""

from __future__ import annotations

import pytest

from pipeline.trace.stages import Stage, _recorded_source, outside_run


def _stages(preprocess_source: str | None, deid_source: str | None = None,
            declared: bool = False) -> dict[str, Stage]:
    """The pipeline; ``declared``: each data stage declares its source as its input (the shipped
    dvc.yaml's ``${deid.source}``, ``${preprocess.source.path}``), else the upstream output."""
    def stage(name, deps, outs, source=None):
        return Stage(name, "", "", deps, outs, ["SRS-X"], [], locked=True, source=source)
    return {s.name: s for s in [
        stage("cohort", [], ["data/raw", "metrics/cohort.json"]),
        stage("deid", [deid_source or "data/raw"] if declared else ["data/raw"],
              ["data/deid", "metrics/deid.json"], deid_source),
        stage("preprocess", [preprocess_source or "data/deid"] if declared else ["data/deid"],
              ["data/preprocessed"], preprocess_source),
        stage("train", ["data/preprocessed"], ["models/teacher.pt"]),
        stage("compress", ["models/teacher.pt"], ["models/candidates"]),
        stage("export", ["models/teacher.pt", "models/candidates", "data/preprocessed"], ["release/models"]),
        stage("verify", ["release/models", "data/preprocessed"], ["metrics/vnv.json"]),
        # a document stage reads every record: it never keeps a skipped stage in the run
        stage("techfile", ["metrics", "release/models"], ["release/techfile"]),
    ]}


@pytest.mark.verifies("SRS-TRACE-002")
@pytest.mark.parametrize(("preprocess_source", "deid_source", "outside"), [
    (None, None, set()),                            # the demo: the cohort, de-identified, is the data
    ("../shared/x", None, {"cohort", "deid"}),      # an image folder or MSD task read by preprocess
    (None, "/data/dicom", {"cohort"}),              # the user's DICOM, de-identified
    ("data/deid", "data/raw", set()),               # the upstream outputs named explicitly: still read
    ("./data/deid/", None, set()),
])
@pytest.mark.parametrize("declared", [True, False])
def test_stages_the_data_did_not_pass_through_are_outside_the_run(preprocess_source, deid_source, outside, declared):
    stages = _stages(preprocess_source, deid_source, declared)
    assert outside_run(stages, "metrics/vnv.json") == outside


@pytest.mark.verifies("SRS-TRACE-002")
def test_a_stage_reading_the_run_is_in_it_and_an_unread_branch_is_not():
    stages = _stages("../shared/x", None, declared=True)
    extra = [Stage("package", "", "", ["release/models"], ["dist"], [], [], locked=True),  # reads the run
             Stage("bench", "", "", ["data/deid"], ["bench.json"], [], [], locked=True)]   # reads a skipped stage
    stages.update({s.name: s for s in extra})
    assert outside_run(stages, "metrics/vnv.json") == {"cohort", "deid", "bench"}


@pytest.mark.verifies("SRS-TRACE-002")
def test_a_recorded_source_of_its_own_is_read_from_the_lock_params():
    folder = {"params.yaml": {"preprocess": {"source": {"format": "image_folder", "path": "../x"}}}}
    assert _recorded_source(folder, "preprocess") == "../x"
    assert _recorded_source(folder, "export") is None  # export records the preprocess section; it reads no source
    assert _recorded_source({"params.yaml": {"preprocess": {"source": {"format": "dicom", "path": None}}}},
                            "preprocess") is None
    assert _recorded_source({"params.yaml": {"deid": {"source": "/data/dicom"}}}, "deid") == "/data/dicom"
    assert _recorded_source({"params.yaml": {"deid": {"source": None}}}, "deid") is None
    assert _recorded_source(None, "deid") is None
