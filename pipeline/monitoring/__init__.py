"""Post-market monitoring data collected in the field: the use log of ``predict``.

Every ``predict`` run appends one record to a use log (JSON Lines, append-only, outside the
release): the time, the model's SHA-256 and version, the runtime, the input's characteristics
compared with the data-set ranges the model file carries, the intended-use outcomes, the output
volume per class and the report it wrote, with no patient identity (the input is named only by
a hash of its pixel data). ``python -m pipeline monitor review`` adds the reviewer's decision on
a use, ``monitor summary`` computes the post-market plan's signals and ``monitor verify`` checks
the hash chain that makes the log tamper-evident.

Modules: ``chain`` (the hash chain, pure), ``logfile`` (locked, interrupt-safe appends and
reading), ``records`` (the record models and the use record built from a prediction, pure),
``summary`` (the signals, pure) and ``cli``.
"""
