"""Traceability: the trace graph, its check gates, suspect links and the static site.

``python -m pipeline trace check | review ID | site OUT`` (see ``cli``).
"""
