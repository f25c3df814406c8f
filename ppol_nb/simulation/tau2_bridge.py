"""The one place that imports τ²-bench, with import hygiene.

Importing tau2 has three side effects we do not want in a research package:
litellm fetches a price list over the network, tau2 logs through loguru, and
``tau2.utils.utils`` calls ``load_dotenv()`` (which, from Jupyter, would read any
``.env`` in the working directory into the process environment). Everything in
ppol_nb reaches tau2 through :func:`tau2_modules`, which imports it once with
those effects switched off, and with the cyclic garbage collector paused (the
import is most of a command's start-up: issue 19, benchmarks/bench_startup.py).
"""

from __future__ import annotations

import functools
import gc
import os
import threading
from types import SimpleNamespace

from ..domains import names as domain_names

DOMAINS = domain_names()  # the registry's (ppol_nb.domains)
SPLITS = ("train", "test")


_import_lock = threading.Lock()  # functools.cache is no lock: a background import and a caller may race


@functools.cache
def tau2_modules() -> SimpleNamespace:
    """Import tau2 once, quietly, and return the pieces ppol_nb uses."""
    with _import_lock:
        return _import_tau2()


def import_in_background() -> threading.Thread:
    """Start :func:`tau2_modules` in a daemon thread, for a caller about to wait on the network.

    The import is seconds of CPU under the GIL, so it gains only the time the caller
    spends waiting (the CLI's preflight: the endpoint's answer to its probe). A failed
    import is left for the caller's own :func:`tau2_modules` call to raise.
    """

    def run() -> None:
        try:
            tau2_modules()
        except BaseException:  # noqa: BLE001, S110 — the caller's own call raises it
            pass

    thread = threading.Thread(target=run, name="ppol-tau2-import", daemon=True)
    thread.start()
    return thread


def _import_tau2() -> SimpleNamespace:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from loguru import logger

    logger.disable("tau2")
    logger.disable("litellm")
    previous = os.environ.get("PYTHON_DOTENV_DISABLED")
    os.environ["PYTHON_DOTENV_DISABLED"] = "1"
    # The import builds ~10^6 long-lived objects (litellm's and the OpenAI SDK's pydantic models):
    # the cyclic GC's full passes over them during the import cost ~15-20% of its seconds, and
    # later passes would walk them again. So: no collection during the import, then the modules'
    # objects move to the permanent generation (gc.freeze), which later passes skip.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        import litellm
        from tau2.agent.base import LocalAgent
        from tau2.agent.llm_agent import LLMAgent
        from tau2.data_model import message as messages
        from tau2.data_model.simulation import SimulationRun, TerminationReason
        from tau2.data_model.tasks import Task
        from tau2.environment.environment import Environment
        from tau2.environment.toolkit import ToolType
        from tau2.evaluator.evaluator import EvaluationType, evaluate_simulation
        from tau2.orchestrator.orchestrator import Orchestrator
        from tau2.registry import registry
        from tau2.user.base import BaseUser, UserState
        from tau2.user.user_simulator import UserSimulator
    finally:
        if previous is None:
            os.environ.pop("PYTHON_DOTENV_DISABLED", None)
        else:
            os.environ["PYTHON_DOTENV_DISABLED"] = previous
        if gc_was_enabled:
            gc.enable()
    gc.freeze()
    litellm.suppress_debug_info = True
    return SimpleNamespace(
        litellm=litellm,
        LocalAgent=LocalAgent,
        LLMAgent=LLMAgent,
        messages=messages,
        SimulationRun=SimulationRun,
        TerminationReason=TerminationReason,
        Task=Task,
        Environment=Environment,
        ToolType=ToolType,
        EvaluationType=EvaluationType,
        evaluate_simulation=evaluate_simulation,
        Orchestrator=Orchestrator,
        registry=registry,
        BaseUser=BaseUser,
        UserState=UserState,
        UserSimulator=UserSimulator,
    )


def _check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {DOMAINS}")


@functools.cache
def _all_tasks(domain: str) -> tuple:
    _check_domain(domain)
    return tuple(tau2_modules().registry.get_tasks_loader(domain)(task_split_name=None))


@functools.cache
def task_splits(domain: str) -> dict[str, tuple[str, ...]]:
    """Official split: task id lists for 'train' and 'test' (τ²'s split_tasks.json)."""
    _check_domain(domain)
    raw = tau2_modules().registry.get_task_splits_loader(domain)()
    return {name: tuple(raw[name]) for name in SPLITS}


def load_tasks(domain: str, split: str | None = "test") -> list:
    """τ² tasks of one domain by official split ('train', 'test' or None for all).

    Returned in the split file's order, so ``--limit K`` means "the first K tasks".
    """
    tasks = _all_tasks(domain)
    if split is None:
        return list(tasks)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    by_id = {t.id: t for t in tasks}
    return [by_id[i] for i in task_splits(domain)[split]]


def split_of(domain: str, task_id: str) -> str | None:
    for name, ids in task_splits(domain).items():
        if task_id in ids:
            return name
    return None


def get_task(domain: str, task_id: str):
    for t in _all_tasks(domain):
        if t.id == str(task_id):
            return t
    raise KeyError(f"no task {task_id!r} in domain {domain!r}")
