"""What ships with a model: the code between a released ONNX file and a mask.

The preprocessing specification a file carries (``spec``), its SHA-256 check (``integrity``),
the runtimes it can run on (``engines``), opening a checked file on its recorded runtime
(``model``), sliding-window inference (``sliding``), the post-processing it asks for
(``postprocess``) and the Dice every consumer shares (``metrics``). Like MONAI's
``inferers``, this package sits below the stages: export (parity), compress (measurements),
verify and ``predict`` all use it, and none of them imports another stage to do so.
"""
