"""The room's online learners, behind two River-shaped Protocols (``protocols``).

* ``protocols``: ``VectorLearner`` (``learn_one(user, item, y)``/``predict_one``, plus the
  matrix rows, update counts, ``init_user``/``init_item`` and ``learn_many`` a room needs to
  rank all its viewers at once) and ``PropensityLearner`` (``learn_one(x, y, w)``/
  ``predict_one(x)``, plus the same on a fixed feature list and the linear weights).
* ``factorization``, ``logistic``: the fast learners (``--learner fast``, the default):
  River's ``FunkMF`` and ``LogisticRegression`` update rules on numpy rows and float lists.
* ``river_adapters``: River's own ``reco.FunkMF`` and ``linear_model.LogisticRegression``
  (any ``optim`` optimizer) behind the same Protocols (``--learner river``): slower, the
  same pushes.
* ``choice``: builds a room's learners from ``RoomParams.learner``.

Every learner refuses a non-finite update (NaN or ±inf in a target, feature, sample weight or
result) and leaves the model as it was; ``refused`` counts them
(``roomrank_learner_refused_total``). ``tests/models/learners/test_contract.py`` is the
contract both kinds pass.
"""
