"""The networks: the MONAI U-Net and its params (``unet``), the checkpoint format that also
rebuilds pruned networks (``checkpoint``), and the conversion to ONNX (``onnx``) with the
exact op rewrites the exported copy gets (``rewrite``, ``stable_norm``). Shared by the train,
compress and export stages.
"""
