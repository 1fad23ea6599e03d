"""The model contract: what every kerasrec model implements, and the registry of names.

Every model, Keras or not, is a :class:`RecModel` registered under one name with
:func:`register`. ``Recommender``, the score table, explanations, persistence and the
SavedModel export talk to models through this class only: they never compare model
names or read a model's layers. Adding a model means adding one file under
``kerasrec/models/`` with a registered subclass; :mod:`kerasrec.testing` then checks it.

A model works in the index space of the fitted
:class:`~kerasrec.features.FeaturePipeline` (index 0 = an id unseen in training) and
answers in stars. It sees a *block*: the dict ``pipeline.transform(pairs)`` returns
(``user_id``, ``item_id``, ``context``, ``timestamp``, ``item_features`` when
:attr:`RecModel.needs_item_features`) plus ``movie_id``, the raw ids.

Required: :meth:`RecModel.fit`, :meth:`RecModel.score`, :meth:`RecModel.save_parts`
and :meth:`RecModel.load_parts`. Optional capabilities, each raising
:class:`~kerasrec.errors.CapabilityError` by default (from :meth:`RecModel.unsupported`,
the one place that says so): :meth:`RecModel.item_vectors` (similar items),
:meth:`RecModel.explain` (exact parts), :meth:`RecModel.relevance` (what lists rank by:
how likely a user is to choose a movie, as opposed to the stars they would give it),
:meth:`RecModel.explain_relevance` (its exact parts) and
:meth:`RecModel.additive_terms` (context and session parts outside the score table, in
NumPy and TensorFlow) and :meth:`RecModel.recent_module` (how relevance changes when a
user's recent movies are given at recommendation time) and
:meth:`RecModel.retrieval_module` (what lists rank by, split into a first stage over
the whole catalog and the stars of its best candidates: :mod:`kerasrec.rerank`).
:meth:`RecModel.supports` tells which a model has.

Importing this module does not import TensorFlow; nor does importing a model's file:
Keras is imported when a model is built or loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import numbers
import pkgutil
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple, Type

import numpy as np

from kerasrec.errors import ArgumentError, CapabilityError, is_number, whole_number

Block = Mapping[str, np.ndarray]

#: Optional capabilities and the method that provides each.
CAPABILITIES = {
    "item_vectors": "item_vectors",
    "explain": "explain",
    "additive_terms": "additive_terms",
    "relevance": "relevance",
    "recent": "recent_module",
    "explain_relevance": "explain_relevance",
    "retrieval": "retrieval_module",
}

_REGISTRY: Dict[str, Type["RecModel"]] = {}
#: The model ``Recommender()`` and ``kerasrec train`` use unless told otherwise.
DEFAULT_MODEL = "hybrid"
#: Modules of ``kerasrec.models`` that hold shared parts, not models.
_SHARED_MODULES = ("base", "keras_model", "layers")


def register(name: str):
    """Class decorator: make a :class:`RecModel` available under ``name``.

    The registry is the only list of model names: the command line's choices,
    ``Recommender`` validation and the table of models in docs/guide.md all come from it.

    Example:
        >>> @register("popularity")
        ... class Popularity(RecModel):
        ...     ...
    """

    def add(cls: Type["RecModel"]) -> Type["RecModel"]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name {name!r} is registered twice "
                             f"({_REGISTRY[name].__qualname__}, {cls.__qualname__})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return add


def _discover() -> None:
    """Import every module under ``kerasrec.models`` once, so their models register."""
    import kerasrec.models as package

    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_") and info.name not in _SHARED_MODULES:
            importlib.import_module(f"{package.__name__}.{info.name}")


def model_names() -> Tuple[str, ...]:
    """Names of every registered model: the default first, then by name."""
    _discover()
    return tuple(sorted(_REGISTRY, key=lambda name: (name != DEFAULT_MODEL, name)))


def model_class(name: str) -> Type["RecModel"]:
    """The registered class of ``name``.

    Raises:
        ArgumentError: For a name nobody registered; the message lists the choices.
    """
    _discover()
    if name not in _REGISTRY:
        raise ArgumentError(f"unknown model {name!r}; choose from {', '.join(model_names())}")
    return _REGISTRY[name]


def check_option(model: str, key: str, value: Any, default: Any) -> Any:
    """Refuse an option value of another kind than its default, before any work.

    So ``--set mf_dim=abc`` is an error naming the option, not a Keras error after the
    data is loaded.

    Returns:
        ``value``, a NumPy number as the Python one (Keras layers refuse
        ``np.int64`` sizes).

    Raises:
        ArgumentError: Naming the model, the option and the kind expected.

    Example:
        >>> check_option("hybrid", "mf_dim", "abc", 32)
        Traceback (most recent call last):
        kerasrec.errors.ArgumentError: hybrid option mf_dim must be a whole number (default 32), got 'abc'
    """
    if default is None:
        return value
    kinds = [(bool, "true or false", lambda v: isinstance(v, bool)),
             (int, "a whole number",
              lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool)),
             (float, "a number", is_number),
             (str, "a string", lambda v: isinstance(v, str)),
             ((tuple, list), "a list", lambda v: isinstance(v, (tuple, list)))]
    for kind, words, accepts in kinds:
        if isinstance(default, kind):
            if not accepts(value):
                raise ArgumentError(f"{model} option {key} must be {words} (default "
                                    f"{default!r}), got {value!r}")
            if kind in (int, float):
                if value < 0:
                    raise ArgumentError(f"{model} option {key} cannot be negative (default "
                                        f"{default!r}), got {value!r}")
                return kind(value)
            return value
    return value


class RecModel:
    """Base class of every kerasrec model.

    Subclasses set the class attributes below, implement :meth:`fit`, :meth:`score`,
    :meth:`save_parts` and :meth:`load_parts`, and override the optional capabilities
    they have. Options are constructor keyword arguments, checked against
    :meth:`option_names`.

    Class attributes:
        name: Set by :func:`register`.
        summary: One line for tables of models.
        train_defaults: :class:`~kerasrec.training.TrainConfig` fields this model
            trains with unless the user says otherwise; ``None`` for models that are
            not trained by gradient descent (no TrainConfig applies).
        scores_cold_pairs: Whether :meth:`score` gives useful predictions for pairs
            with a user or movie unseen in training. If not, the catalog's baseline
            (mean + shrunk biases) scores them.
        tabulate: Whether its predictions are precomputed into a score table (which
            the SavedModel export serves). False for models that score pairs cheaply
            but a whole users x movies table slowly (the neighbourhood baselines).
        quick_options, quick_train: Options and TrainConfig fields that train the
            model briefly on the bundled sample, for :mod:`kerasrec.testing`.
        requires: Import names of optional libraries the model needs (an extra of
            kerasrec); :meth:`available` says whether they are installed.
        trivial: The model is the trivial reference (the global mean) that the
            contract check holds every other model against.
        sizes: Options that size or count something (``dim``, ``k``): whole numbers of
            at least 1 (or lists of them), refused otherwise when the model is made,
            not inside Keras or NumPy after the data is read.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    train_defaults: ClassVar[Optional[Mapping[str, Any]]] = None
    scores_cold_pairs: ClassVar[bool] = False
    tabulate: ClassVar[bool] = True
    quick_options: ClassVar[Mapping[str, Any]] = {}
    quick_train: ClassVar[Mapping[str, Any]] = {}
    trivial: ClassVar[bool] = False
    requires: ClassVar[Tuple[str, ...]] = ()
    #: Options that are sizes or counts (a whole number >= 1, or a list of them).
    sizes: ClassVar[Tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(self.option_names())
        if unknown:
            raise ArgumentError(f"unknown {self.name} option(s) {sorted(unknown)}; choose "
                                f"from {sorted(self.option_names())}")
        defaults = self.option_defaults()
        self.options = {key: check_option(self.name, key, value, defaults.get(key))
                        for key, value in options.items()}
        for key in set(self.sizes) & set(self.options):
            value = self.options[key]
            for size in (value if isinstance(value, (list, tuple)) else [value]):
                whole_number(size, f"{self.name} option {key}")
        #: Loss and metrics per training epoch (Keras' History), empty if not trained so.
        self.history: Dict[str, List[float]] = {}
        #: Settings the fit chose on validation data, and the scores that chose them.
        self.chosen: Dict[str, Any] = {}

    @classmethod
    def option_names(cls) -> Tuple[str, ...]:
        """Keyword options the model accepts."""
        return ()

    @classmethod
    def option_defaults(cls) -> Dict[str, Any]:
        """Default value of each option (None where it has none to compare with);
        a given value must be of the default's kind (see :func:`check_option`)."""
        return {}

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({options})"

    @classmethod
    def train_config(cls, **settings):
        """The model's :class:`~kerasrec.training.TrainConfig`: its ``train_defaults``,
        then ``settings`` (those not None), silent unless ``verbose`` is given; None
        for models not trained by gradient descent."""
        if cls.train_defaults is None:
            return None
        from kerasrec.training import TrainConfig

        given = {k: v for k, v in settings.items() if v is not None}
        return TrainConfig(**{"verbose": 0, **cls.train_defaults, **given})

    # --- required --------------------------------------------------------------------

    @property
    def needs_item_features(self) -> bool:
        """Whether blocks must carry the per-row ``item_features`` matrix."""
        return False

    def fit(self, pipeline, ratings, products, train=None, seed: int = 0) -> "RecModel":
        """Learn from training ratings.

        Args:
            pipeline: The fitted :class:`~kerasrec.features.FeaturePipeline`.
            ratings: The training ratings frame (userId, movieId, rating, timestamp).
            products: The catalog frame (movieId, title, genres).
            train: A :class:`~kerasrec.training.TrainConfig` (Keras models), or None.
            seed: Seeds initialisation and any randomness of the fit.

        Returns:
            self.
        """
        raise NotImplementedError

    def score(self, block: Block) -> np.ndarray:
        """Predicted ratings in stars, unclipped, one per row of ``block``."""
        raise NotImplementedError

    def save_parts(self, folder: Path) -> None:
        """Write the fitted state into ``folder`` (JSON, ``.npz``, Parquet, ``.keras``)."""
        raise NotImplementedError

    def load_parts(self, folder: Path, pipeline) -> None:
        """Read what :meth:`save_parts` wrote. Must not execute code from the folder."""
        raise NotImplementedError

    # --- optional capabilities ---------------------------------------------------------

    @classmethod
    def provides(cls, capability: str) -> bool:
        """Whether the model class implements ``capability`` (a key of
        :data:`CAPABILITIES`), in some configuration."""
        method = CAPABILITIES[capability]
        return getattr(cls, method) is not getattr(RecModel, method)

    def supports(self, capability: str) -> bool:
        """Whether this model, as configured, has ``capability``. Subclasses whose
        options switch a capability off override this."""
        return self.provides(capability)

    @classmethod
    def available(cls) -> bool:
        """Whether the optional libraries in :attr:`requires` are installed."""
        return all(importlib.util.find_spec(name) is not None for name in cls.requires)

    @classmethod
    def capabilities(cls) -> Tuple[str, ...]:
        """The optional capabilities the model class provides."""
        return tuple(c for c in CAPABILITIES if cls.provides(c))

    def unsupported(self, capability: str):
        """Raise the :class:`CapabilityError` for ``capability`` (the one place)."""
        having = [n for n in model_names() if _REGISTRY[n].provides(capability)]
        raise CapabilityError(f"model {self.name!r} has no {capability.replace('_', ' ')}; "
                              f"models that do: {', '.join(having) or 'none'}")

    def item_vectors(self, block: Block) -> np.ndarray:
        """Learned vectors of the block's movies (``item_id``, ``movie_id``), for similar
        items: ``(len(block["item_id"]), d)``."""
        self.unsupported("item_vectors")

    def explain(self, block: Block):
        """Exact parts of :meth:`score`, in stars: a DataFrame whose row sums equal it."""
        self.unsupported("explain")

    def relevance(self, block: Block, stars: Optional[np.ndarray] = None) -> np.ndarray:
        """How strongly the model expects each user to choose each movie (higher first):
        what ``recommend`` ranks known users by when the model has it. Unitless.
        ``stars``: the block's predicted stars, when the caller has them already."""
        self.unsupported("relevance")

    def explain_relevance(self, block: Block, stars: Optional[np.ndarray] = None):
        """Exact parts of :meth:`relevance`: a DataFrame whose row sums equal it."""
        self.unsupported("explain_relevance")

    def recent_module(self):
        """A ``tf.Module`` called as ``module(rows, recent)``: ``rows`` int64 user indices
        ``(batch,)``, ``recent`` int64 item indices ``(batch, R)`` of movies the user
        rated after training, oldest first (0 = padding or a movie the model does not
        know, ignored). It returns ``(batch, n_items)`` float32: how much each item's
        :meth:`relevance` rises when those movies join the user's history. The same
        module runs in Python (``Recommender.recommend(recent=...)``) and in the
        SavedModel's ``recommend_recent`` signature.

        The module also has ``parts(rows, recent)``: the same rise as a dict keyed by
        :meth:`explain_relevance`'s column names (summing to the call), and, for
        ``Recommender.because``, ``explain(rows, recent, items)`` (the recent window's
        item indices, attention weights and shares, each ``(batch, length)``) and
        ``explain_co_watch(rows, recent, items)`` (flat row, rated item and share of
        every rated movie); either may be empty."""
        self.unsupported("recent")

    def retrieval_module(self):
        """A ``tf.Module`` that splits :meth:`relevance` into two stages
        (:mod:`kerasrec.rerank`), so lists need no users x movies table:

        * ``module(rows)``: ``rows`` int64 user indices ``(batch,)`` ->
          ``(batch, n_items)`` float32 first-stage scores of every item index, a
          matrix product cheap enough for the whole catalog;
        * ``module.score(users, items, item_features, context, timestamp)``: int64
          ``(n,)``, int64 ``(n,)``, float32 ``(n, n_features)``, float32 ``(n, 2)``,
          int64 ``(n,)`` -> ``(n,)`` the rating model's scores in target units
          (``pipeline.to_stars`` maps them to :meth:`score`'s stars);
        * ``first_weight``, ``stars_weight``: :meth:`relevance` is
          ``first_weight * first + stars_weight * stars`` for every pair of a user
          seen in training (``kerasrec.testing`` checks it); ``n_features``.

        The same module runs in Python (``Recommender.recommend``) and inside the
        SavedModel's ``recommend``."""
        self.unsupported("retrieval")

    def additive_terms(self):
        """The parts of the score that depend on context and session, kept out of the
        score table: an object with ``shift(rows, flags, timestamps)`` (NumPy),
        ``serving_module()`` (TensorFlow), ``to_arrays()``/``from_arrays()`` and
        ``unknown_users()`` (the same terms for users unseen in training, without what
        only training users have), or ``None``. Models whose score ignores context do
        not implement it.

        Raises:
            CapabilityError: If the model's score depends on context non-additively.
        """
        self.unsupported("additive_terms")


def model_table() -> str:
    """The registered models as a Markdown table (name, what it is, capabilities,
    trained by gradient descent), as docs/guide.md shows it."""
    rows = ["| model | what it is | trains with Keras | cold pairs | capabilities |",
            "| --- | --- | --- | --- | --- |"]
    for name in model_names():
        cls = _REGISTRY[name]
        rows.append(f"| `{name}` | {cls.summary} | {'yes' if cls.train_defaults is not None else 'no'} "
                    f"| {'the model' if cls.scores_cold_pairs else 'the baseline'} "
                    f"| {', '.join(cls.capabilities()) or '—'} |")
    return "\n".join(rows)
