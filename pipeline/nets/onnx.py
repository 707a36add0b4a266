"""Write a PyTorch network as a checker-clean ONNX file with metadata and a SHA-256 sidecar.

The ONNX graph has one input ``image`` (batch, channels, *spatial) and one output ``logits``
(batch, classes, *spatial), with dynamic batch and spatial axes. Two torch exporters exist:
the TorchScript exporter (``dynamo=False``) names the dynamic axes and exports a MONAI UNet
in about a second; the dynamo exporter also works with MONAI UNet on torch 2.13 but
specialises a batch-1 example to a static batch (so it is given batch 2), names the output
axes with symbolic expressions and takes about ten times longer. Both give identical logits.

What is exported is ``rewrite.for_export(model)``: instance norms as corrected two-pass
arithmetic (ONNX Runtime's own kernel is up to 10x further from the exact result on windows of
uniform background, which alone broke the 1e-4 logit parity gate) and single-slope PReLU as
LeakyReLU. The file records this in its ``export_numerics`` metadata.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import onnx
import torch

from pipeline.core.atomic import atomic_file
from pipeline.nets import rewrite
from pipeline.runtime.engines import INPUT, OUTPUT
from pipeline.runtime.integrity import write_sidecar

NUMERICS_KEY = "export_numerics"
REWRITTEN = ("instance norms as corrected two-pass ops, single-slope PReLU as LeakyReLU "
             "(pipeline.nets.rewrite)")
AXES = ("x", "y", "z")


def export_onnx(model: torch.nn.Module, path: Path, spatial_dims: int, in_channels: int,
                patch_size: list[int], opset: int, exporter: str = "torchscript",
                metadata: dict[str, str] | None = None) -> dict:
    """Export ``model`` to ``path`` (atomically), check it, add metadata, write ``path.sha256``.

    Args:
        model: the network (put in eval mode here).
        path: the ONNX file to write.
        spatial_dims: 2 or 3.
        in_channels: input channels.
        patch_size: spatial size of the example input.
        opset: ONNX opset (17 or newer).
        exporter: ``torchscript`` or ``dynamo``.
        metadata: string key/values stored as ``metadata_props``.
    Returns:
        path, sha256, bytes, opset, exporter.
    """
    model = model.eval()
    exported = rewrite.for_export(model)
    example = torch.zeros(2, in_channels, *patch_size)
    proto = _to_proto(exported, example, spatial_dims, opset, exporter)
    metadata = dict(metadata or {})
    if exported is not model:
        metadata[NUMERICS_KEY] = REWRITTEN
    set_metadata(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    path = Path(path)
    with atomic_file(path, mode="wb") as handle:
        handle.write(proto.SerializeToString())
    digest = write_sidecar(path)
    return {"path": str(path), "sha256": digest, "bytes": path.stat().st_size, "opset": opset,
            "exporter": exporter}


def set_metadata(proto: onnx.ModelProto, metadata: dict[str, str]) -> None:
    """Replace the model's ``metadata_props`` with ``metadata`` (values must be strings)."""
    del proto.metadata_props[:]
    for key, value in sorted(metadata.items()):
        if not isinstance(value, str):
            raise TypeError(f"metadata {key!r} must be a string, got {type(value).__name__}")
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def _to_proto(model, example, spatial_dims: int, opset: int, exporter: str) -> onnx.ModelProto:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            dims = {0: torch.export.Dim("batch", min=1, max=1024)}
            dims.update({2 + i: torch.export.Dim.AUTO for i in range(spatial_dims)})
            program = torch.onnx.export(model, (example,), input_names=[INPUT], output_names=[OUTPUT],
                                        opset_version=opset, dynamo=True, dynamic_shapes=(dims,),
                                        verbose=False)
            return program.model_proto
        axes = {0: "batch", **{2 + i: AXES[i] for i in range(spatial_dims)}}
        torch.onnx.export(model, (example,), buffer, input_names=[INPUT], output_names=[OUTPUT],
                          opset_version=opset, dynamo=False, dynamic_axes={INPUT: axes, OUTPUT: axes},
                          do_constant_folding=True)
    return onnx.load_from_string(buffer.getvalue())
