"""``python -m pipeline predict MODEL.onnx INPUT OUTPUT``: one image in, one mask out."""
