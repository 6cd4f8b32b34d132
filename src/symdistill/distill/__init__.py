"""From a trained network's messages to a law, in the method's four steps (docs/method.md):

* messages: ``messages`` (dump and select the message components), ``force_r2`` (their fit to
  the true force);
* structure: ``central`` (the messages as a central force), ``separable`` (its terms
  phi_k(m, q) g_k(r));
* search: ``search`` (the search that builds one front), ``engines`` and ``availability``
  (Operon, PySR), ``readout`` (the EQL read-out), ``exhaustive`` (every short expression in one
  variable), ``simplify``; ``routes`` (where candidates come from: ``routes.messages``,
  ``routes.data`` (the search on the data), ``routes.potential``);
* front and choice: ``candidates`` (a candidate, its losses, the Pareto front), ``choice`` (the
  law chosen from the front), ``calibrated`` and ``calibrate`` (laws calibrated on the data);
* the law of a model: ``force_law``, ``energy_law``, ``component_laws``; the stage's entry
  point ``stage`` (``symdistill-sr``), with ``settings`` and ``inputs``;
* the verdict: ``verdict`` (judged against the true law; ``verdict.cli`` is
  ``symdistill-judge``), ``model`` (a calibrated law as a simulator).
"""
