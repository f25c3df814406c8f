"""Rollout step caps: how long a τ² episode may run (paper §1 settings, the authors' code).

τ² counts every message after the agent's greeting as a step, tool messages
included. Once ``max_steps`` is reached (a pending tool call is answered first,
so a capped episode holds ``max_steps`` + 1 or + 2 messages) it ends the episode
with ``termination_reason == "max_steps"``, and its evaluator gives reward 0
(only an agent or user stop is scored). A capped episode is an ordinary record,
not an error: it is fingerprinted and scored on the user turns it has.

Which cap where:

* :data:`TRAIN_MAX_STEPS` (20): training rollouts, i.e. the evolution's minibatch
  episodes;
* :data:`EVAL_MAX_STEPS` (30): validation, the held-out benchmark, and the
  baseline study's base-simulator episodes that train the discriminator — the
  discriminator is then fitted on the step distribution it is read against in
  the reported tables and in checkpoint selection;
* :data:`DEFAULT_MAX_STEPS` (100): τ²'s own default, for plain rollouts.

This module has no imports so that configuration code can read the caps without
loading τ².
"""

DEFAULT_MAX_STEPS = 100
TRAIN_MAX_STEPS = 20
EVAL_MAX_STEPS = 30
