"""Settings of the hybrid: which branches, and their sizes."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

@dataclass
class HybridConfig:
    """Settings of :func:`build_hybrid`. The defaults are tuned on MovieLens latest-small
    (validation data cut from the training file only).

    Attributes:
        mf: Branch A, user/item embeddings and their dot product.
        mlp: Branch B, an MLP over concatenated user/item embeddings.
        item_features: Branch C, a dense layer over genres + old (+ year_unknown).
        context: Branch D, a dense layer over daytime/weekend.
        biases: Per-user and per-item biases (a branch of their own).
        session_bias: Add a per-(user, session) bias to the bias branch (needs a
            ``timestamp`` input and ``sessions``); ratings outside the training
            sessions get none.
        session_hours: Session window length.
        recent_stars: Add how far the model was off on the user's last
            ``recent_stars_length`` ratings before the moment scored (its residuals
            after training, their shrunk mean, faded with the days since the last of
            them: :class:`~kerasrec.models.hybrid.time_layers.RecentResiduals`) to the stars, with a
            weight, shrinkage and half-life chosen on validation data: a user's scale
            drifts, and their latest ratings show where it is now. Fitted after training
            (the part is zero in training), so it changes no list (a constant per user
            and moment). Off when training holds out no validation cut
            (``TrainConfig(validation_fraction=0)``): nothing could choose its weight.
        recent_stars_length: Ratings ``recent_stars`` reads.
        recent_stars_fade: Let validation choose a half-life for ``recent_stars``
            (7 days to a year, or none); False never fades it.
        movie_bias_refit: After training, move each movie's bias by its shrunk mean
            residual over the movie's training ratings (``sum / (count + shrink)``, times
            a weight), with the weight and shrinkage chosen on validation data: the L2
            penalty and early stopping leave part of a movie's standing unlearned, and
            one closed-form step gives back as much of it as validation says (none when
            it does not help). Needs ``biases``; changes no saved layout (the step is in
            the ``item_bias`` weights).
        neighbours: Koren's neighbourhood terms (:class:`Neighbourhood`), on the sides
            listed: ``"item"`` uses the user's baseline residuals on the movies most
            similar to this one, ``"user"`` the residuals of the most similar users
            on this movie; each as a fixed KNN estimate and a learned interpolation
            (needs ``neighbourhood``). An empty tuple switches the branch off.
        neighbour_pool: Most similar movies (users) considered per movie (user); at
            most 50 above 5M training ratings (:mod:`kerasrec.models.hybrid.budget`).
        neighbour_weights: Learn per-neighbour interpolation weights as well.
        dense_residuals_limit: Up to this many users x movies cells, the neighbourhood
            layers keep residuals in a dense table (fast); above it, in a hash table.
        mf_dim: Size of the MF embeddings.
        similarity: ``"dot"`` (default) or ``"cosine"`` (the article's normalised dot).
        user_history: Add SVD++ implicit-feedback factors to the MF user embedding,
            pooled from the movies the user rated in training (needs ``history``).
        feature_factors: Add a projection of the item features to the MF item
            embedding, so rarely rated movies borrow factors from their genres.
        mlp_dim: Size of the MLP embeddings.
        mlp_units: Hidden layer sizes of the MLP branch.
        dropout: Dropout after each MLP hidden layer.
        feature_units: Width of the item-feature branch.
        context_units: Width of the context branch.
        l2: Per-occurrence L2 on embeddings and biases.
        output: ``"linear"`` (the article) or ``"sigmoid"`` stretched over the target range.
        ids_only: Hold the item feature table inside the model, so callers pass ids
            and context only (no per-rating copy of the features).
        retrieval: Learn what each user watches, too: a user tower (SVD++ pooled
            factors of the movies the user rated, the scored movie left out:
            :class:`~kerasrec.models.hybrid.history_layers.LeaveOneOutHistory`) scored
            against every movie
            (:class:`~kerasrec.models.hybrid.retrieval_layers.CatalogScores`) with a
            softmax over the catalog, every rated movie a positive, trained jointly with
            the rating head.
            Its pair score is a branch of the rating head as well, and what lists rank
            known users by (``Recommender.recommend(rank_by="relevance")``).
        retrieval_dim: Size of the retrieval vectors.
        retrieval_weight: Weight of the retrieval loss beside the rating loss.
        retrieval_negatives: ``"catalog"`` (a softmax over every movie), ``"in_batch"``
            (each rating's negatives are the batch's other movies, with the logQ
            popularity correction and accidental hits removed, for large catalogs) or
            ``"auto"``: the catalog up to
            :data:`~kerasrec.models.hybrid.model.RETRIEVAL_SOFTMAX_LIMIT` movies.
        retrieval_user_ids: Give the user tower a learned vector per user id besides
            the pooled history (off: users are what they watched, as in EASE).
        pooled_history: The user tower pools every movie the user rated, and its pair
            score is a part of the rating head. Off (with ``history_attention``): the
            user tower is the sequence branch alone, read from a window of fixed
            length, trained on ``history_rows`` rows of each batch and outside the
            rating head, so its cost per step does not grow with the users' histories
            and it scales to MovieLens 25M (the pooled tower stops at 500,000 ratings:
            :mod:`kerasrec.models.hybrid.budget`).
        history_rows: With ``pooled_history`` off, the rows of each batch (the first
            ones; batches are shuffled) whose windows the sequence branch reads and
            whose movies it learns to retrieve, against the catalog or, with in-batch
            negatives, each other's movies; 0: every row.
        history_attention: The sequence branch: the user's last ``history_length``
            ratings made before the moment scored
            (:class:`~kerasrec.models.hybrid.time_layers.RecentRatings`; never the rating itself),
            read by multi-head self-attention
            (:class:`~kerasrec.models.hybrid.time_layers.HistoryAttention`), added to the retrieval
            query: a part of the retrieval tower, so off when ``retrieval`` is.
        history_length: Recent ratings the sequence branch reads.
        history_training: How the branch learns: ``"residual"`` (a softmax of its own on
            top of the pooled-history scores, which it cannot change), ``"shared"``
            (that softmax may move the movie vectors too) or ``"joint"`` (added to the
            query of the one retrieval softmax).
        history_dim: Width of its encoding.
        history_heads: Its attention heads.
        history_eras: Each movie in the window is also marked with when it was rated:
            one of this many eras, each holding about as many training ratings
            (:func:`~kerasrec.models.hybrid.recent.era_edges`), so the branch can read
            where in time the user is (what people watched then); 0: order alone.
        co_watch: Add item-item weights fitted in closed form from who rated what
            (EASE^R's, plus what people rate next) to what lists rank by, each rated
            movie weighted by how recent it is (:mod:`kerasrec.models.hybrid.co_watch`);
            the weight, the half-life and the share of the "next" weights are chosen on
            validation data. A part of the retrieval tower, so off when ``retrieval``
            is.
        co_watch_recency: Weigh each rated movie by how recent it is, with a half-life
            chosen on validation (:data:`~kerasrec.models.hybrid.co_watch.HALF_LIVES`).
            Off: every rated movie counts the same (with ``co_watch_window=0`` and
            without the sequence branch, users are bags of movies, as in EASE).
        co_watch_l2: The weights' ridge regularisation.
        co_watch_window: Ratings before and after each rating that the "next" weights
            link (0: EASE^R's weights alone).
        co_watch_min_ratings: Fewest training ratings of a movie with co-watch weights
            (movies rated once or twice are rarely what comes next; leaving them out
            makes the fit about 5x faster on MovieLens latest-small).
        co_watch_pool: Weights kept per movie on average: the strongest by magnitude
            over the whole matrix, so popular movies keep more.
        co_watch_max_items: Most movies in the EASE Gram matrix (the most rated; its
            memory grows with their square, its time with their cube).
        scale_parts: On more training ratings than a part can afford, switch it off
            before training with a :class:`~kerasrec.errors.ScaleWarning` that says why
            (:mod:`kerasrec.models.hybrid.budget`: the SVD++ history and the retrieval
            tower above 500,000 ratings, the user neighbourhood above 5M). False keeps every
            part as set.
    """

    mf: bool = True
    mlp: bool = True
    item_features: bool = True
    context: bool = True
    biases: bool = True
    session_bias: bool = True
    session_hours: float = 6.0
    recent_stars: bool = True
    recent_stars_length: int = 10
    recent_stars_fade: bool = True
    movie_bias_refit: bool = True
    neighbours: Sequence[str] = ("item", "user")
    neighbour_pool: int = 100
    neighbour_weights: bool = True
    dense_residuals_limit: int = 2 ** 25
    mf_dim: int = 32
    similarity: str = "dot"
    feature_factors: bool = True
    user_history: bool = True
    mlp_dim: int = 16
    mlp_units: Sequence[int] = (64, 32)
    dropout: float = 0.2
    feature_units: int = 8
    context_units: int = 4
    l2: float = 0.03
    output: str = "linear"
    ids_only: bool = False
    retrieval: bool = True
    retrieval_dim: int = 128
    retrieval_weight: float = 0.05
    retrieval_negatives: str = "auto"
    retrieval_user_ids: bool = False
    pooled_history: bool = True
    history_rows: int = 0
    history_attention: bool = True
    history_length: int = 20
    history_training: str = "residual"
    history_dim: int = 64
    history_heads: int = 2
    history_eras: int = 32
    co_watch: bool = True
    co_watch_recency: bool = True
    co_watch_l2: float = 200.0
    co_watch_pool: int = 400
    co_watch_max_items: int = 10_000
    co_watch_window: int = 10
    co_watch_min_ratings: int = 3
    scale_parts: bool = True

    def __post_init__(self) -> None:
        from kerasrec.errors import ArgumentError, whole_number

        self.neighbours = tuple(self.neighbours)
        self.mlp_units = tuple(whole_number(u, "each of mlp_units") for u in self.mlp_units)
        unknown_sides = set(self.neighbours) - {"item", "user"}
        if unknown_sides:
            raise ArgumentError(f"neighbours must list 'item' and/or 'user', got "
                                f"{self.neighbours}")
        if not (self.mf or self.mlp or self.item_features or self.context or self.biases
                or self.neighbours):
            raise ArgumentError("switch on at least one branch of the hybrid")
        if self.similarity not in ("dot", "cosine"):
            raise ArgumentError(f"similarity must be 'dot' or 'cosine', got {self.similarity!r}")
        if not self.co_watch_l2 > 0:
            raise ArgumentError(f"co_watch_l2 must be positive, got {self.co_watch_l2}")
        # Sizes Keras would refuse later, inside a layer ("output_dim must be a positive
        # integer"), and counts with no meaning at 0.
        for name in ("mf_dim", "mlp_dim", "feature_units", "context_units", "retrieval_dim",
                     "neighbour_pool", "history_length", "recent_stars_length", "history_dim",
                     "history_heads", "co_watch_pool", "co_watch_max_items",
                     "co_watch_min_ratings"):
            whole_number(getattr(self, name), name)
        if not 0 <= self.dropout < 1:
            raise ArgumentError(f"dropout must be in [0, 1), got {self.dropout}")
        if int(self.history_eras) < 0 or int(self.history_eras) == 1:
            raise ArgumentError(f"history_eras must be 0 (off) or at least 2, got "
                                f"{self.history_eras}")
        if int(self.history_rows) < 0:
            raise ArgumentError(f"history_rows must be 0 (every row) or more, got "
                                f"{self.history_rows}")
        if self.retrieval and not self.pooled_history and not self.history_attention:
            raise ArgumentError("pooled_history=False makes the sequence branch the user tower: "
                                "keep history_attention=True, or pass retrieval=False")
        if self.retrieval_user_ids and not self.pooled_history:
            raise ArgumentError("retrieval_user_ids adds a vector per user to the pooled "
                                "history: it needs pooled_history=True")
        if self.history_rows and self.pooled_history:
            raise ArgumentError("history_rows samples the rows of the sequence-only user "
                                "tower: pass pooled_history=False with it")
        if int(self.co_watch_window) < 0:
            raise ArgumentError(f"co_watch_window must be 0 or more, got {self.co_watch_window}")
        if self.retrieval_negatives not in ("auto", "catalog", "in_batch"):
            raise ArgumentError(f"retrieval_negatives must be 'auto', 'catalog' or 'in_batch', "
                                f"got {self.retrieval_negatives!r}")
        if self.history_training not in ("residual", "shared", "joint"):
            raise ArgumentError(f"history_training must be 'residual', 'shared' or 'joint', "
                                f"got {self.history_training!r}")
        if self.output not in ("linear", "sigmoid"):
            raise ArgumentError(f"output must be 'linear' or 'sigmoid', got {self.output!r}")

    @classmethod
    def names(cls):
        """The option names."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def defaults(cls):
        """The option names and their default values."""
        return {f.name: f.default for f in fields(cls)}

    @property
    def needs_features(self) -> bool:
        """Whether the model reads item features (branch C or genre factors)."""
        return self.item_features or (self.mf and self.feature_factors)

    @property
    def session_bias_on(self) -> bool:
        return self.biases and self.session_bias

    @property
    def needs_timestamp(self) -> bool:
        """Whether the model reads the ``timestamp`` input (sessions, recent history)."""
        return self.session_bias_on or self.sequence_on or self.recent_stars

    @property
    def co_watch_on(self) -> bool:
        """Whether the co-watch part is built (it belongs to the retrieval tower)."""
        return self.retrieval and self.co_watch

    @property
    def sequence_on(self) -> bool:
        """Whether the sequence branch is built (it belongs to the retrieval tower)."""
        return self.retrieval and self.history_attention
