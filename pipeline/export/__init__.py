"""The export stage: ONNX files of the teacher and the compressed model, with metadata and parity.

``pipeline.export.inference`` is the one ONNX inference path (``OnnxModel``, ``predict_volume``)
shared by export parity, compress measurements, ``predict`` and V&V.
"""
