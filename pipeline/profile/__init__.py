"""Data profiles: ``python -m pipeline profile NAME`` writes ``params.yaml`` for one data set.

A profile (``profiles/NAME.yaml``) is a short list of settings, each a dotted key of
``params.yaml`` and the value that replaces the base's (``preprocess.source: {format: msd, ...}``),
plus the stage its data enters the pipeline at. The base is the demo ``params.yaml``: while
another profile is active it is kept byte for byte in ``profiles/base.params.yaml`` (the one
home of the demo knobs then), and switching back to a profile without settings (``demo``)
restores it exactly. Comments survive: the file is rewritten with ruamel.yaml's round trip, and
a key a profile sets carries the profile's comment instead of the base's (which explained the
demo's value).
"""
