"""Every knob whose wrong value would give a plausible wrong result is refused by name (issue 17).

Each row: the shipped ``params.yaml`` with one bad value, validated the way every stage validates
it (``validate_params``); the one-line message must name the knob. Rows marked ``# new`` are the
checks issue 17 added; the others pin the ranges that were there before.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from pipeline.core.errors import UserError
from pipeline.params import load_params, validate_params

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = yaml.safe_load((ROOT / "params.yaml").read_text())

REGION = {"row_start": 0, "row_stop": 10, "column_start": 0, "column_stop": 10}
PRUNE = {"name": "pruned", "method": "prune", "ratio": 0.5, "epochs": 1}
SLIM = {"name": "slim", "method": "distill", "epochs": 1,
        "network": {"channels": [6, 16, 32, 64], "strides": [2, 2, 2], "num_res_units": 1}}

# (path to the knob, bad value, text the message must hold; None: the dotted path itself)
COHORT = [
    (("cohort", "seed"), -1, None),
    (("cohort", "patients_per_site"), 0, None),
    (("cohort", "followup_every"), -1, None),
    (("cohort", "dose_report_every"), -1, None),
    (("cohort", "workers"), 0, None),
    (("cohort", "sites"), [], None),
    (("cohort", "sites", 0, "name"), "site a", None),
    (("cohort", "sites", 0, "institution"), "", None),
    (("cohort", "sites", 0, "pixel_spacing_mm"), 0.0, None),
    (("cohort", "sites", 0, "slice_thickness_mm"), 0.0, None),
    (("cohort", "sites", 0, "rows"), 8, None),
    (("cohort", "sites", 0, "columns"), 8, None),
    (("cohort", "sites", 0, "slices"), 4, None),
    (("cohort", "sites", 0, "noise_hu"), -1.0, None),
    (("cohort", "external", "seed"), -1, None),
    (("cohort", "external", "patients_per_site"), 0, None),
    (("cohort", "external", "sites"), [], None),
    (("cohort", "sites", 1, "name"), "site-a", "cohort: site names must be unique"),
    (("cohort", "external", "sites", 0, "institution"), "Bergfeld Clinic",
     "cohort.external sites must not share an institution"),
]
DEID = [
    (("deid", "uid_root"), "2.25.", None),
    (("deid", "pseudonym_prefix"), "subj ", None),
    (("deid", "date_offset_days"), [-30, -1460], "deid.date_offset_days must be [low, high] with low <= high"),
    (("deid", "date_offset_days"), [-10, 10], "deid.date_offset_days must not contain 0"),
    (("deid", "date_offset_days"), [-10**7, -1], None),
    (("deid", "date_offset_days"), [-30], None),
    (("deid", "burned_in", "sop_classes"), ["1.2.840.10008.5.1.4.1.1.7 "], "deid.burned_in.sop_classes.0"),  # new
    (("deid", "burned_in", "sop_classes"), ["Secondary Capture"], "deid.burned_in.sop_classes.0"),  # new
    (("deid", "burned_in", "ocr_frames"), 0, None),
    (("deid", "burned_in", "ocr_min_score"), 1.5, None),
    (("deid", "burned_in", "ocr_min_score"), 0.0, None),
    (("deid", "burned_in", "ocr_min_characters"), 0, None),
    (("deid", "burned_in", "ocr_margin"), -1, None),
    (("deid", "burned_in", "ocr_modalities"), ["us"], "deid.burned_in.ocr_modalities.0"),
    (("deid", "burned_in", "unscreened_modalities"), ["SEG", "US"], "deid.burned_in: modalities ['US']"),
    (("deid", "burned_in", "regions"), [{**REGION, "row_stop": 0}], "deid.burned_in.regions.0.row_stop"),
    (("deid", "burned_in", "regions"), [{**REGION, "column_start": 10}],
     "deid.burned_in.regions.0: a region needs row_start < row_stop and column_start < column_stop"),
    (("deid", "burned_in", "mode"), "blank", "deid.burned_in.mode 'blank' needs at least one region"),
    (("deid", "max_quarantined_share"), 1.5, None),
    (("deid", "leak_check", "min_value_length"), 0, None),
    (("deid", "leak_check", "min_substring_length"), 1, None),
    (("deid", "workers"), 0, None),
    (("deid", "reid_table"), "", None),  # new
]
PREPROCESS = [
    (("preprocess", "max_bad_fraction"), 1.5, None),
    (("preprocess", "target_spacing_mm"), [0.75, 0.0, 2.5], "preprocess.target_spacing_mm.1"),  # new: by index
    (("preprocess", "target_spacing_mm"), [0.75, -0.75, 2.5], "preprocess.target_spacing_mm.1"),
    (("preprocess", "target_spacing_mm"), [0.75], None),
    (("preprocess", "target_spacing_mm"), [0.75, 0.75],  # new
     "preprocess.target_spacing_mm = [0.75, 0.75] needs train.network.spatial_dims = 3 values"),
    (("preprocess", "normalisation", "low"), 300.0,
     "preprocess.normalisation.ct_window.high (250.0) must be above low"),
    (("preprocess", "crop_threshold"), 1.0, None),  # new
    (("preprocess", "crop_threshold"), -0.1, None),  # new
    (("preprocess", "crop_margin"), -1, None),
    (("preprocess", "source", "classes"), [{"name": "lesion", "values": [""]}],
     "preprocess.source.dicom.classes.0.values.0"),
    (("preprocess", "source", "classes"), [], "preprocess.source.dicom.classes"),
    (("preprocess", "source", "classes"), [{"name": "background"}], "preprocess.source.dicom.classes.0"),
    (("preprocess", "source", "classes"), [{"name": "a", "values": ["x"]}, {"name": "b", "values": ["x"]}],
     "preprocess.source.dicom: value 'x' is given to both 'a' and 'b'"),
    (("preprocess", "source", "classes"), [{"name": "a", "values": ["x"]}, {"name": "a", "values": ["y"]}],
     "preprocess.source.dicom: class name 'a' is given twice"),
    (("preprocess", "source", "classes"), [{"name": "a"}, {"name": "b", "values": ["y"]}],
     "preprocess.source.dicom: class 'a' lists no values"),
    (("preprocess", "source", "segments"), [], "preprocess.source.dicom.segments was replaced by classes"),
    (("preprocess", "source"), {"format": "msd", "path": "data/msd", "channel": -1},
     "preprocess.source.msd.channel"),
    (("preprocess", "source"), {"format": "msd", "path": "data/msd", "classes": [{"name": "a", "values": [0]}]},
     "preprocess.source.msd: class 'a' lists label 0"),
    (("preprocess", "source"), {"format": "msd", "path": "data/msd", "foreground_labels": [1]},
     "preprocess.source.msd.foreground_labels was replaced by classes"),
    (("preprocess", "source"), {"format": "image_folder", "path": "data/img",
                                "classes": [{"name": "a", "values": [-1]}]},
     "preprocess.source.image_folder.classes.0.values.0"),
    (("preprocess", "source"), {"format": "image_folder", "path": "data/img", "classes": [{"name": "a", "values": []}]},
     "preprocess.source.image_folder.classes.0.values"),
    (("preprocess", "source"), {"format": "image_folder", "path": "data/img", "foreground_values": [255]},
     "preprocess.source.image_folder.foreground_values was replaced by classes"),
    (("preprocess", "source"), {"format": "image_folder", "path": "data/img", "classes": [{"name": "a"}],
                                "pixel_spacing_mm": 0.0},
     "preprocess.source.image_folder.pixel_spacing_mm"),
    (("preprocess", "splits", "seed"), -1, None),
    (("preprocess", "splits", "val_fraction"), 0.0, None),
    (("preprocess", "splits", "val_fraction"), 0.5, None),
    (("preprocess", "splits", "test_fraction"), 0.0, None),
    (("preprocess", "splits", "test_fraction"), 0.5, None),
    (("preprocess", "splits", "external_sites"), [""], "preprocess.splits.external_sites.0"),  # new
    (("preprocess", "splits", "external_sites"),  # new
     ["Dunmore Community Hospital", "Dunmore Community Hospital"], "preprocess.splits.external_sites"),
    (("preprocess", "splits", "external_sites"), [],  # new: the external cohort would be trained on
     "preprocess.splits.external_sites = [] must name every cohort.external site's institution"),
    (("preprocess", "splits", "external_sites"), ["Dunmore Community Hospital", "Dunmore"],  # new
     "preprocess.splits.external_sites names ['Dunmore']"),
    (("deid", "options", "retain_institution_identity"), False,  # new: no sites left to stratify or hold out
     "need(s) deid.options.retain_institution_identity = true"),
]
SPLIT_SUM = [  # new message: names the knobs (was a dump of the section)
    ((("preprocess", "splits", "val_fraction"), 0.45), (("preprocess", "splits", "test_fraction"), 0.45),
     "preprocess.splits.val_fraction + test_fraction = 0.9: must stay below 0.9"),
]
TRAIN = [
    (("train", "network", "spatial_dims"), 4, None),
    (("train", "network", "channels"), [16], None),
    (("train", "network", "channels"), [16, 0, 64, 128], "train.network.channels.1"),
    (("train", "network", "strides"), [2, 2],
     "train.network.strides = [2, 2]: needs len(channels) - 1 = 3 values"),
    (("train", "network", "strides"), [2, 0, 2], "train.network.strides.1"),
    (("train", "network", "num_res_units"), -1, None),
    (("train", "network", "dropout"), 1.0, None),
    (("train", "patch_size"), [48, 48, 0], "train.patch_size.2"),  # new: 0 was divisible by the strides
    (("train", "patch_size"), [48, -48, 32], "train.patch_size.1"),  # new
    (("train", "patch_size"), [48, 48], "train.patch_size = [48, 48]: needs network.spatial_dims = 3 values"),
    (("train", "patch_size"), [48, 48, 30], "train.patch_size = [48, 48, 30]: must be divisible by 8"),
    (("train", "cases_per_batch"), 0, None),
    (("train", "patches_per_case"), 0, None),
    (("train", "pos_neg_ratio"), 0.0, None),
    (("train", "flip_prob"), 1.5, None),
    (("train", "augment", "prob"), 1.5, None),
    (("train", "augment", "noise_std"), -0.1, None),
    (("train", "augment", "noise_std"), 20.0, None),  # new: HU, not normalised units
    (("train", "augment", "smooth_sigma"), [1.0, 0.5], None),
    (("train", "augment", "smooth_sigma"), [0.0, 1.0], None),
    (("train", "augment", "smooth_sigma"), [0.5], None),
    (("train", "augment", "scale"), 1.0, None),
    (("train", "augment", "shift"), -0.1, None),
    (("train", "augment", "shift"), 20.0, None),  # new
    (("train", "augment", "gamma"), [1.5, 0.7], None),
    (("train", "augment", "gamma"), [-0.7, 1.5], None),
    (("train", "accumulation_steps"), 0, None),
    (("train", "learning_rate"), 0.0, None),
    (("train", "learning_rate"), 2.0, None),
    (("train", "weight_decay"), -1e-5, None),
    (("train", "weight_decay"), 1e5, None),  # new: 1e5 typed for 1e-5
    (("train", "sw_batch_size"), 0, None),
    (("train", "sw_overlap"), 1.0, None),
    (("train", "sw_overlap"), -0.1, None),
    (("train", "epochs"), 0, None),
    (("train", "val_every"), 0, None),
    (("train", "val_after"), 1.0, None),
    (("train", "seed"), -1, None),
    (("train", "threads"), 0, None),
]
VERIFY = [
    (("verify", "plan"), "", None),
    (("verify", "nsd_tolerance_mm"), 0.0, None),
    (("verify", "bootstrap_samples"), 99, None),
    (("verify", "seed"), -1, None),
    (("verify", "worst_cases"), 0, None),
    (("verify", "threads"), 0, None),
    (("verify", "timing_repeats"), 0, None),
    (("verify", "explain", "cases"), [], None),
    (("verify", "explain", "occlusion_mask_voxels"), 1, None),
    (("verify", "explain", "occlusion_overlap"), 1.0, None),
    (("verify", "explain", "dilation_mm"), 0.0, None),
    (("verify", "explain", "slices"), 0, None),
]
COMPRESS = [
    (("compress", "candidates"), [], None),
    (("compress", "candidates"), [SLIM, SLIM], "compress.candidates: candidate names must be unique"),
    (("compress", "candidates"), [{**SLIM, "name": "teacher"}], "not 'teacher'"),
    (("compress", "candidates"), [{**SLIM, "epochs": 0}], "compress.candidates.0.epochs"),
    (("compress", "candidates"), [{**SLIM, "ratio": 0.5}],
     "compress.candidates.0: a distill candidate needs network"),
    (("compress", "candidates"), [{**PRUNE, "ratio": 1.0}], "compress.candidates.0.ratio"),
    (("compress", "candidates"), [{**PRUNE, "ratio": 0.0}], "compress.candidates.0.ratio"),
    (("compress", "candidates", 0, "network", "channels"), [6], "compress.candidates.0.network.channels"),
    (("compress", "candidates", 0, "network", "channels"), [6, 0, 32, 64],
     "compress.candidates.0.network.channels.1"),
    (("compress", "candidates", 0, "network", "strides"), [2, 2],
     "compress.candidates.0.network.strides = [2, 2]: needs len(channels) - 1"),
    (("compress", "candidates", 0, "network", "strides"), [3, 2, 2],  # new: 32 is not divisible by 12
     "compress.candidates.0.network.strides = [3, 2, 2]: their product 12 must divide train.patch_size"),
    (("compress", "candidates", 0, "network", "strides"), [2, 2, 4],  # new: the shipped kernels are [3, 2, 2]
     "up_kernel_size 2 needs a stride of 2 at its level"),
    (("compress", "candidates", 0, "network", "up_kernel_size"), [3, 2],
     "up_kernel_size = [3, 2]: needs one value per stride (3)"),
    (("compress", "distill", "temperature"), 0.0, None),
    (("compress", "distill", "kd_weight"), 1.5, None),
    (("compress", "distill", "kd_weight"), -0.1, None),
    (("compress", "quantize", "calibration_cases"), 0, None),
    (("compress", "selection", "max_dice_drop"), 1.5, None),
    (("compress", "selection", "max_dice_drop"), -0.01, None),
    (("compress", "selection", "min_speedup"), 0.5, None),
    (("compress", "selection", "min_size_reduction"), 0.5, None),
    (("compress", "selection", "parity_atol"), 0.0, None),
    (("compress", "selection", "max_argmax_mismatches"), -1, None),
    (("compress", "selection", "speed_tie"), 1.5, None),
    (("compress", "runtimes"), [], None),
    (("compress", "runtimes"), ["onnxruntime-cpu", "onnxruntime-cpu"], 
     "compress.runtimes = ['onnxruntime-cpu', 'onnxruntime-cpu']: a runtime is given twice: 'onnxruntime-cpu'"),
    (("compress", "runtimes"), ["tensorrt"], "compress.runtimes.0"),
    (("compress", "foreground_thresholds"), [], None),
    (("compress", "foreground_thresholds"), [0.5, 1.0], "compress.foreground_thresholds.1"),  # by index now
    (("compress", "foreground_thresholds"), [0.0, 0.5], "compress.foreground_thresholds.0"),
    (("compress", "val_every"), 0, None),
    (("compress", "val_after"), 1.0, None),
    (("compress", "latency_repeats"), 0, None),
    (("compress", "bootstrap_samples"), 99, None),
    (("compress", "seed"), -1, None),
    (("compress", "threads"), 0, None),
    (("compress", "workers"), 0, None),
    (("compress", "sw_overlap"), 1.0, None),
    (("compress", "sw_batch_size"), 0, None),
]
EXPORT = [
    (("export", "opset"), 16, None),
    (("export", "parity_atol"), 0.0, None),
    (("export", "parity_atol"), 0.1, None),
    (("export", "max_argmax_mismatches"), -1, None),
    (("export", "model_version"), "", None),
    (("export", "intended_use"), "", None),
    (("export", "labels"), ["background", "lesion"], "export.labels was replaced by preprocess.source.classes"),
    (("export", "sw_overlap"), 1.0, None),
    (("export", "sw_batch_size"), 0, None),
    (("export", "latency_repeats"), 0, None),
    (("export", "threads"), 0, None),
]
TECHFILE = [
    (("techfile", "product_name"), "", None),
    (("techfile", "manufacturer"), "", None),
]
COPIES = [
    (("export", "sw_overlap"), 0.5, "train.sw_overlap = 0.25 must equal export.sw_overlap = 0.5"),
    (("export", "sw_batch_size"), 2, "compress.sw_batch_size = 4 must equal export.sw_batch_size = 2"),
    (("export", "parity_atol"), 1e-3, "compress.selection.parity_atol = 0.0001 must equal export.parity_atol"),
    (("export", "max_argmax_mismatches"), 5,
     "compress.selection.max_argmax_mismatches = 0 must equal export.max_argmax_mismatches = 5"),
]
ROWS = COHORT + DEID + PREPROCESS + TRAIN + VERIFY + COMPRESS + EXPORT + TECHFILE + COPIES


@pytest.mark.verifies("SRS-PLAT-001")
def test_the_shipped_params_file_passes_every_range_check():
    params = load_params(ROOT / "params.yaml")
    assert params.preprocess.splits.external_sites  # the rows below change a valid file, one knob at a time


@pytest.mark.verifies("SRS-PLAT-001")
@pytest.mark.parametrize(("path", "value", "expected"), ROWS,
                         ids=[f"{'.'.join(map(str, path))}={value!r}"[:60] for path, value, _ in ROWS])
def test_a_bad_value_is_refused_naming_the_knob(path, value, expected):
    line = _refused({path: value})
    key = ".".join(str(part) for part in path)
    assert (expected or f"{key} = {value!r}: ") in line


@pytest.mark.verifies("SRS-PLAT-001")
@pytest.mark.parametrize(("first", "second", "expected"), SPLIT_SUM)
def test_knobs_refused_together_are_named_together(first, second, expected):
    assert expected in _refused(dict([first, second]))


@pytest.mark.verifies("SRS-PLAT-001")
@pytest.mark.parametrize("changes", [
    {("preprocess", "normalisation"): {"kind": "zscore"}, ("preprocess", "crop_threshold"): -0.5},
    {("preprocess", "crop_foreground"): False, ("preprocess", "crop_threshold"): -1.0},
    {("preprocess", "splits", "external_sites"): ["Dunmore Community Hospital", "Bergfeld Clinic"]},
    {("cohort", "external"): None, ("preprocess", "splits", "external_sites"): [],
     ("preprocess", "splits", "stratify_by"): "manufacturer",
     ("deid", "options", "retain_institution_identity"): False},
    {("deid", "source"): "elsewhere/dicom", ("preprocess", "splits", "external_sites"): ["Another Hospital"]},
    {("preprocess", "source"): {"format": "image_folder", "path": "data/isbi",
                                   "classes": [{"name": "membrane", "values": [0]}]}},
    {("preprocess", "source"): {"format": "msd", "path": "data/msd", "classes": [
        {"name": "liver", "values": [1]}, {"name": "tumour", "values": [2]}]}},
    {("train", "augment", "noise_std"): 1.0, ("train", "augment", "shift"): 1.0, ("train", "weight_decay"): 1.0},
    {("compress", "candidates", 0, "network", "strides"): [2, 2, 4],  # 16 divides 48 and 32
     ("compress", "candidates", 0, "network", "up_kernel_size"): [3, 2, 3]},  # a stride-4 level up-samples with 3
])
def test_unusual_but_meaningful_values_still_pass(changes):
    data = copy.deepcopy(SHIPPED)
    for path, value in changes.items():
        _set(data, path, value)
    validate_params(data)


@pytest.mark.verifies("SRS-PLAT-001")
def test_a_rule_of_a_section_names_its_knob_and_does_not_dump_the_section():
    data = copy.deepcopy(SHIPPED)
    data["cohort"]["sites"][1]["name"] = "site-a"
    data["preprocess"]["crop_threshold"] = 1.5
    with pytest.raises(UserError) as info:
        validate_params(data)
    lines = str(info.value).splitlines()
    assert "  preprocess.crop_threshold = 1.5: must lie in [0, 1)" in "\n".join(lines)
    assert all("{'" not in line and "Value error" not in line for line in lines[1:])


@pytest.mark.verifies("SRS-PLAT-001", "SRS-DATA-010")
def test_the_label_map_has_one_home_and_sizes_the_network():
    from pipeline.export.params import ExportParams
    from pipeline.nets.unet import OUT_CHANNELS, out_channels

    assert "labels" not in ExportParams.model_fields  # class names live in preprocess.source.classes only
    classes = validate_params(copy.deepcopy(SHIPPED)).preprocess.source.class_names
    assert classes == ["lesion"] and out_channels(classes) == OUT_CHANNELS == 2


def _refused(changes: dict) -> str:
    """The lines of the one-line-per-problem message for the shipped file with ``changes``."""
    data = copy.deepcopy(SHIPPED)
    for path, value in changes.items():
        _set(data, path, value)
    with pytest.raises(UserError) as info:
        validate_params(data)
    message = str(info.value)
    assert message.startswith("params.yaml is not valid") and "Traceback" not in message
    return message


def _set(data, path: tuple, value) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value
