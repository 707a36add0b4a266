"""``trace review``: record the current fingerprints of items' links in the review file."""

from __future__ import annotations

from pipeline.core.errors import UserError
from pipeline.trace import reviews as rv
from pipeline.trace.graph import Trace


def review(trace: Trace, ids: list[str], everything: bool = False) -> list[str]:
    """Stamp each item's own fingerprint and its link targets'; returns the reviewed IDs.

    Records of items that no longer exist are dropped.

    Args:
        trace: the built graph (its ``reviews`` are updated and saved).
        ids: item IDs or stage names.
        everything: review every reviewable item instead of ``ids``.
    """
    reviewable = trace.reviewable()
    chosen = list(reviewable) if everything else list(dict.fromkeys(ids))
    unknown = [i for i in chosen if i not in reviewable]
    if unknown:
        raise UserError(
            f"trace review: not a reviewable item or stage: {', '.join(unknown)} (allowed: "
            "software requirements, risks, risk controls, acceptance criteria, stage names)")
    for stale in [key for key in trace.reviews if key not in reviewable and key not in trace.design.other_plans]:
        del trace.reviews[stale]  # the item is gone: its record is evidence of nothing (another plan's is kept)
    for node in chosen:
        broken = [t for t in trace.links[node] if t not in trace.design.items()]
        if broken:
            raise UserError(f"trace review: {node} links to unknown IDs {', '.join(broken)}; "
                            "fix the links before reviewing")
        own, targets = reviewable[node]
        trace.reviews[node] = rv.review_record(own, targets)
    rv.save_reviews(trace.paths.at("reviews"), trace.reviews)
    return chosen
