"""Which parts of the hybrid a data set of this size can afford.

Some parts read every training rating of a batch's users at each step (the SVD++
history, the retrieval tower's pooled history) or search every pair of users (the
user neighbourhood): their cost grows faster than the data. On many ratings the
hybrid switches them off before training, with a :class:`~kerasrec.errors.ScaleWarning`
naming each part, what it was measured to cost and how to keep it
(``scale_parts=False``), never silently. The limits come from
``benchmarks/scale_parts.py`` (2 cores, batch 16384: each part's build seconds and
training milliseconds per step beside the article's four branches, on 1M and 5M
generated ratings). The hybrid's default batch of 512 makes the pooled parts dearer
still: their cost is per step, and there are 32 times more steps.

One setting is narrowed rather than switched off: the movies' neighbour pool. Every
pair scored looks up that many (user, neighbour) residuals in a hash table, the
largest cost of a served pair at 25M ratings (``benchmarks/scale.py --set
neighbour_pool=100`` against the default, then ``benchmarks/serving.py --run``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import List, Mapping, Optional, Tuple

from kerasrec.models.hybrid.config import HybridConfig


@dataclass(frozen=True)
class PartLimit:
    """A part switched off above ``max_ratings`` training ratings.

    Attributes:
        part: Its name in messages.
        max_ratings: Most training ratings it is kept on for.
        off: The config fields that switch it off (``neighbours``: the sides to drop;
            a number: a cap, never raising a smaller setting).
        reason: Its measured cost, for the message.
        action: What the message says is done to it.
        source: The benchmarks that measured it.
        needs: A config field without which the part is absent anyway (a setting of
            it), or None.
    """

    part: str
    max_ratings: int
    off: Mapping[str, object]
    reason: str
    action: str = "switched off the"
    source: str = "benchmarks/scale_parts.py"
    needs: Optional[str] = None

    def switched_off(self, config: HybridConfig) -> HybridConfig:
        """``config`` without the part (itself when the part is off already)."""
        if self.needs and not getattr(config, self.needs):
            return config
        changes = dict(self.off)
        if "neighbours" in changes:
            changes["neighbours"] = tuple(s for s in config.neighbours
                                          if s not in changes["neighbours"])
        for field, value in changes.items():
            if isinstance(value, int) and not isinstance(value, bool):
                changes[field] = min(getattr(config, field), value)
        if all(getattr(config, k) == v for k, v in changes.items()):
            return config
        return dataclasses.replace(config, **changes)


#: The parts switched off on large data, in the order they are checked.
LIMITS: Tuple[PartLimit, ...] = (
    PartLimit("per-rating copy of the item features (ids_only=False)", 500_000,
              {"ids_only": True},
              "the model holds the feature table and looks movies up instead, with the same "
              "predictions: at 25M ratings the copy alone would take 2.2 GB"),
    PartLimit("SVD++ history (user_history)", 500_000, {"user_history": False},
              "it pools every training rating of the batch's users at each step: at 1M "
              "ratings that takes 89 ms a step against 20 ms without it, at 5M 400 ms "
              "against 35 ms (an epoch of about 120 s)"),
    PartLimit("retrieval tower (retrieval, with its sequence branch and co-watch part)",
              500_000, {"retrieval": False},
              "its user vector pools every training rating of the batch's users at each "
              "step and its softmax scores each rating against the catalog: at 1M ratings "
              "2.2 s a step against 20 ms without it; lists then rank by stars, the MF "
              "share of the rating choosing the candidates. pooled_history=False (with "
              "history_rows=256) keeps the tower as the sequence branch alone, whose cost "
              "per step is fixed", needs="pooled_history"),
    PartLimit("co-watch part (co_watch)", 1_000_000, {"co_watch": False},
              "its closed-form fit links each rating to the co_watch_window ratings before "
              "and after it and inverts a Gram matrix of up to co_watch_max_items movies, "
              "and a fit runs it twice (the validation choice, then every rating): 2.9 s "
              "at 1M ratings, 39.7 s at 5M", needs="retrieval"),
    PartLimit("user neighbourhood (neighbours='user')", 5_000_000, {"neighbours": ("user",)},
              "its search multiplies every pair of users who rated a movie in common: at "
              "5M ratings 17 s to build against 8 s for the movies' side; at 25M it makes 3.8e10 "
              "multiplications, 4.5 times the movies' search (39 s)"),
    PartLimit("movies' neighbour pool (neighbour_pool) to 50", 5_000_000, {"neighbour_pool": 50},
              "every pair scored looks up each neighbour's residual in a hash table of "
              "every training rating: at 25M ratings a served pair costs 1.34 us with 100 "
              "neighbours and 0.92 us with 50 (747k and 1.08M pairs/s), an epoch 106 s and "
              "90 s, for held-out RMSE 0.6536 and 0.6546", action="narrowed the",
              source="benchmarks/scale.py --set neighbour_pool=100, benchmarks/serving.py",
              needs="neighbours"),
)


def within_budget(config: HybridConfig, n_ratings: int) -> Tuple[HybridConfig, List[str]]:
    """``config`` with the parts too costly for ``n_ratings`` training ratings off.

    Args:
        config: The asked-for settings; with ``scale_parts=False`` returned as is.
        n_ratings: Training ratings.

    Returns:
        ``(config, messages)``: one message per part switched off.

    Example:
        >>> config, notes = within_budget(HybridConfig(), 25_000_000)
        >>> config.user_history, config.retrieval, config.neighbours, len(notes)
        (False, False, ('item',), 5)
        >>> config.neighbour_pool
        50
        >>> config, _ = within_budget(HybridConfig(pooled_history=False), 25_000_000)
        >>> config.retrieval, config.history_attention, config.co_watch
        (True, True, False)
    """
    if not config.scale_parts:
        return config, []
    messages = []
    for limit in LIMITS:
        smaller = limit.switched_off(config)
        if n_ratings > limit.max_ratings and smaller != config:
            config = smaller
            messages.append(
                f"hybrid: {limit.action} {limit.part} for {n_ratings:,} training ratings "
                f"(its limit is {limit.max_ratings:,}): {limit.reason} "
                f"({limit.source}). Pass scale_parts=False to keep it.")
    return config, messages
