"""A data profile's skipped stages: the stages whose every reader records a source of its own are
not part of the recorded run, so the gates neither require their outputs nor call them stale."""

from __future__ import annotations

import pytest

from pipeline.trace.stages import Stage, _own_source, outside_run


def _stages(preprocess_own: bool, deid_own: bool = False) -> dict[str, Stage]:
    def stage(name, deps, outs, own=False):
        return Stage(name, "", "", deps, outs, ["SRS-X"], [], locked=True, own_source=own)
    return {s.name: s for s in [
        stage("cohort", [], ["data/raw", "metrics/cohort.json"]),
        stage("deid", ["data/raw"], ["data/deid", "metrics/deid.json"], deid_own),
        stage("preprocess", ["data/deid"], ["data/preprocessed"], preprocess_own),
        stage("train", ["data/preprocessed"], ["models/teacher.pt"]),
        stage("compress", ["models/teacher.pt"], ["models/candidates"]),
        stage("export", ["models/teacher.pt", "models/candidates", "data/preprocessed"], ["release/models"]),
        stage("verify", ["release/models", "data/preprocessed"], ["metrics/vnv.json"]),
        # a document stage reads every record: it never keeps a skipped stage in the run
        stage("techfile", ["metrics/vnv.json", "metrics/deid.json", "metrics/cohort.json"], ["release/techfile"]),
    ]}


@pytest.mark.verifies("SRS-TRACE-002")
@pytest.mark.parametrize(("preprocess_own", "deid_own", "outside"), [
    (False, False, set()),                  # the demo: the cohort, de-identified, is the data
    (True, False, {"cohort", "deid"}),      # an image folder or MSD task read by preprocess
    (False, True, {"cohort"}),              # the user's DICOM, de-identified
])
def test_stages_the_data_did_not_pass_through_are_outside_the_run(preprocess_own, deid_own, outside):
    assert outside_run(_stages(preprocess_own, deid_own)) == outside


@pytest.mark.verifies("SRS-TRACE-002")
def test_a_recorded_source_of_its_own_is_read_from_the_lock_params():
    folder = {"params.yaml": {"preprocess": {"source": {"format": "image_folder", "path": "../x"}}}}
    assert _own_source(folder, "preprocess")
    assert not _own_source(folder, "export")  # export records the preprocess section; it reads no source
    assert not _own_source({"params.yaml": {"preprocess": {"source": {"format": "dicom", "path": None}}}},
                           "preprocess")
    assert _own_source({"params.yaml": {"deid": {"source": "/data/dicom"}}}, "deid")
    assert not _own_source({"params.yaml": {"deid": {"source": None}}}, "deid")
    assert not _own_source(None, "deid")
