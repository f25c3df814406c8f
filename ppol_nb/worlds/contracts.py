"""The contract of every LLM role, and of a world as a whole, as typed protocols.

PPol (arXiv:2605.12894, §2) has five LLM roles: the user simulator a persona is
appended to, the service agent, the generator model that answers a persona
program's calls, the mutator that edits programs, and the reflector that
critiques a minibatch for the mutation prompt. ppol_nb plays each of them in two
worlds — real OpenAI-compatible endpoints (:class:`ppol_nb.worlds.llm.LLMBackend`)
and deterministic offline stand-ins (:class:`ppol_nb.offline.backend.OfflineBackend`)
— and a third world (a local model server, a recorded client, a new offline
stand-in) is welcome if it satisfies the protocols below. As GEPA's
``core/adapter.py`` does for its single seam, each docstring states the whole
contract: inputs, outputs, determinism, the errors raised, and what the role must
never read.

Two rules hold for every role of every world:

* **Text in, text out.** A role sees what an LLM in that role would see — the
  prompt, the persona's instruction text, the dialogue — and nothing else: no
  axis objects, no behaviour levels, no task ids or gold plans passed around the
  text, no human corpus, no discriminator. An offline stand-in must therefore
  *react to the text* (edit the persona's wording and its user talks
  differently), exactly as an LLM could.
* **Reproducible.** Given the same inputs and seed, an offline role returns the
  same output; an LLM role sends the same request, which the response cache
  (:mod:`ppol_nb.llm.cache`) replays identically.

The checks that every implementation passes, run over both worlds with the same
assertions, are in ``tests/test_role_contracts.py``.

This module imports only the standard library and the engine's own contract,
:mod:`ppol_nb.evolution.interfaces` (the mutator's protocol is re-exported from there, not
copied; ``ppol_nb.evolution`` loads its engine lazily, so this pulls in no engine, fitness
model or numpy), so a stand-in can depend on it without pulling in either world.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..evolution.interfaces import Mutator

if TYPE_CHECKING:  # annotations only: these records sit in a module that imports numpy and the fitness
    from ..evolution.reflection import Critique, ReflectionInput

#: τ²'s control tokens a user simulator ends an episode with (``tau2.user.user_simulator``).
STOP_TOKEN = "###STOP###"
TRANSFER_TOKEN = "###TRANSFER###"
OUT_OF_SCOPE_TOKEN = "###OUT-OF-SCOPE###"

#: The longest critique a reflector may return (the mutator's reflection artefact limit).
MAX_CRITIQUE_CHARS = 10_000


@runtime_checkable
class UserSimulator(Protocol):
    """The customer of one episode: τ²'s user-simulator interface (``tau2.user.base.BaseUser``).

    Made by ``world.make_user(task, scenario, seed, persona=None)``; τ²'s
    ``Orchestrator`` drives it, so it must be a ``BaseUser`` (τ²'s stock
    ``UserSimulator`` with the persona block appended to its system prompt, or an
    offline ``BaseUser``).

    * ``get_init_state(message_history=None)`` returns a τ² ``UserState``.
    * ``generate_next_message(message, state)`` takes the agent's
      ``AssistantMessage`` (or a ``MultiToolMessage``) and returns
      ``(UserMessage, state)``; the message's ``content`` is a non-empty string.
      The first call answers the agent's greeting with the customer's opening.
    * When the customer is done — the agent has finished and asks "anything
      else?", or the customer gives up — the reply contains :data:`STOP_TOKEN`
      (or :data:`TRANSFER_TOKEN` when handed to a human), and ``is_stop(message)``
      is True for it and only for such messages.
    * ``set_seed(seed)`` fixes its sampling; ``stop(message, state)`` ends it.

    It reads the τ² scenario text (what the customer wants and knows) and the
    persona's ``instruction`` text — never the persona's ``axis_placement``, the
    task's gold actions, or any behaviour value decided outside the text. The same
    (scenario, persona text, seed) gives the same replies. It never alters the
    scenario's facts or goal. Errors from the LLM layer (:mod:`ppol_nb.llm.errors`)
    propagate; the runner turns them into an episode record with ``error`` set.
    """

    def get_init_state(self, message_history: list | None = None) -> Any: ...

    def generate_next_message(self, message: Any, state: Any) -> tuple[Any, Any]: ...

    def is_stop(self, message: Any) -> bool: ...

    def set_seed(self, seed: int) -> None: ...

    def stop(self, message: Any = None, state: Any = None) -> None: ...


@runtime_checkable
class Agent(Protocol):
    """The service agent of one episode: τ²'s agent interface (``tau2.agent.base.BaseAgent``).

    Made by ``world.make_agent(env, task, scenario)`` with the environment's
    tools and policy. ``generate_next_message(message, state)`` takes a
    ``UserMessage`` or ``ToolMessage`` / ``MultiToolMessage`` and returns
    ``(AssistantMessage, state)`` in τ²'s format: either text ``content`` for the
    customer, or ``tool_calls`` naming tools of the environment with dict
    arguments — never both empty. It acts on the environment only through those
    tool calls (τ² executes them), and reads the dialogue and tool results; the
    offline agent may also use the task's gold plan, which is why the success rate
    it earns is labelled offline. It never reads the persona. The same dialogue
    gives the same action (offline: always; LLM: through the response cache).
    """

    def get_init_state(self, message_history: list | None = None) -> Any: ...

    def generate_next_message(self, message: Any, state: Any) -> tuple[Any, Any]: ...

    def set_seed(self, seed: int) -> None: ...

    def stop(self, message: Any = None, state: Any = None) -> None: ...


@runtime_checkable
class GeneratorWorld(Protocol):
    """Answers a persona program's LLM calls, in the parent process (``world.generator(seed)``).

    ``answer(request, seed)`` gets the request exactly as the sandboxed program
    sent it — ``{"messages": [{"role", "content"}, ...], "temperature",
    "max_tokens"}`` — and returns the reply text (a ``str``; for a population
    prompt, the JSON the prompt asks for). It reads the messages' text only: no
    metadata, no axis objects, nothing from the program but its prompt. An empty
    or malformed ``messages`` raises ``ValueError`` (the sandbox reports it to the
    program as a failed call). The same (request, seed) gives the same text
    (offline: deterministic; LLM: cached).

    ``key`` names what answers (backend, model, endpoint — never a credential)
    and is part of every persona cache key, so a different model never reuses
    another's personas; ``ledger`` is where calls are accounted (None when they
    cost nothing); ``waits_on_network`` says whether concurrent calls overlap
    waiting time.
    """

    key: str
    ledger: Any
    waits_on_network: bool

    def answer(self, request: dict, seed: int = 0) -> str: ...


@runtime_checkable
class Reflector(Protocol):
    """Critiques one minibatch for the next mutation prompt (``world.reflector()``; paper App. C.2).

    ``reflect(inp, seed=0)`` takes a :class:`~ppol_nb.evolution.reflection.ReflectionInput`
    — the fitness summary, per-task P(human) and active behaviours, and the two
    most and least human-like episodes (persona text, 19-D fingerprint, dialogue
    excerpt) — and returns a :class:`~ppol_nb.evolution.reflection.Critique`
    whose ``text`` is non-empty, at most :data:`MAX_CRITIQUE_CHARS` characters,
    free of the task's customer names (``inp.banned_names``) and of task or
    persona indices, and whose ``llm_calls`` / ``cost_usd`` say what it spent.
    It never reads the human corpus or a per-feature human reference (PPol's guard
    against proxy hacking). Deterministic for the same input and seed (LLM:
    cached). Errors of the LLM layer propagate; the evaluator records the
    critique as unavailable and the search goes on.
    """

    def reflect(self, inp: ReflectionInput, seed: int = 0) -> Critique: ...


@runtime_checkable
class World(Protocol):
    """Every role of one world, made by one object (:func:`ppol_nb.worlds.registry.make_backend`).

    Roles: ``make_user(task, scenario, seed, persona=None)`` → :class:`UserSimulator`;
    ``make_agent(env, task, scenario)`` → :class:`Agent`; ``generator(seed=0)`` →
    :class:`GeneratorWorld`; ``mutator(**kwargs)`` → :class:`Mutator` (the keywords are
    its settings: the offline world drops those it has no use for, such as sampling;
    the LLM world refuses an unknown one with ``TypeError``); ``reflector()`` →
    :class:`Reflector`.

    Running: ``max_workers(requested)`` is how many episodes to run at once
    (≥ 1); ``search_defaults()`` the search settings that suit the world
    (``parallel_evaluations``, ``speculative_rescore``, ``background_validation``);
    ``preflight()`` checks keys, endpoints and models before anything is written
    and raises ``ppol_nb.llm.preflight.PreflightError`` naming the fix (a no-op
    offline).

    Records: ``describe()`` and ``identity()`` are JSON-able dicts with a
    ``"backend"`` entry (the world's ``name``) — ``identity()`` is what decides
    results (a run resumes only into the same identity), never a secret;
    ``recipe()`` is a picklable :class:`ppol_nb.worlds.recipe.BackendRecipe` from
    which :func:`ppol_nb.worlds.registry.from_recipe` builds an equivalent world in a
    worker process; ``ledger`` accounts every call;
    ``user_model`` / ``agent_model`` name the models for records.

    Nothing outside the registry and the world's own package asks which world it
    is: callers use these members only.
    """

    name: str
    ledger: Any

    @property
    def user_model(self) -> str: ...

    @property
    def agent_model(self) -> str: ...

    def make_user(self, task: Any, scenario: Any, seed: int | None, persona: Any = None) -> UserSimulator: ...

    def make_agent(self, env: Any, task: Any, scenario: Any) -> Agent: ...

    def generator(self, seed: int = 0) -> GeneratorWorld: ...

    def mutator(self, **kwargs: Any) -> Mutator: ...

    def reflector(self) -> Reflector: ...

    def max_workers(self, requested: int | None) -> int: ...

    def search_defaults(self) -> dict: ...

    def preflight(self) -> None: ...

    def describe(self) -> dict: ...

    def identity(self) -> dict: ...

    def recipe(self) -> Any: ...


__all__ = ["MAX_CRITIQUE_CHARS", "OUT_OF_SCOPE_TOKEN", "STOP_TOKEN", "TRANSFER_TOKEN", "Agent", "GeneratorWorld",
           "Mutator", "Reflector", "UserSimulator", "World"]
