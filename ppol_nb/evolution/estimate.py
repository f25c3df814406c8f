"""A search's LLM calls, tokens, dollars and wall time per role, estimated before it runs (issue 19, item 3).

Roles: ``mutator``, ``reflection``, ``generator`` (the program's persona calls),
``user`` and ``agent``. PPol's fitness has no LLM judge (the discriminator is a
local classifier), so there is no judge row.

**Calls** come from replaying the engine's flow (:mod:`.engine`, :mod:`.evaluator`,
:mod:`.comparison`) on the run's resolved config, with a *scenario* for what
only the run can decide. Notation: I = ``max_iterations``, P =
``parallel_evaluations``, K = ``confirm_evaluations``; minibatch t has k_t
tasks and N_t personas per task (:func:`.curriculum.minibatch_for`); u, a =
user and agent calls per episode; V = validation tasks. One *fitness call* of
program p on context t costs

    generator  Σ_{tasks of t not yet generated for (p, N_t)} (N_t + 1)   (a seed-shaped program:
               one population call + one expansion per persona, the expansions
               :data:`~ppol_nb.personas.toolkit.MAX_EXPANSION_WORKERS` at a time; the persona
               cache makes a repeat free)
    user/agent k_t · N_t · u,  k_t · N_t · a
    reflection 1 when it is the candidate's own evaluation and ``reflection`` is on (never in a rescore)

and the run is: the seed's fitness call on context 0; then for t = 1..I, in
rounds of P: mutator 1 + ρ calls (ρ: share of replies that need the
whole-program follow-up); the candidate's fitness call unless it fails before
evaluation (share φ); with ``comparison="paired"``, the round-start incumbent's
rescore on context t (for every candidate when ``speculative_rescore``, else
for those that were evaluated), and for a challenger (share χ of evaluated
candidates) both programs' rescores on contexts t+1 … t+K−1, each computed
once per (program, context); ``comparison="raw"`` has no rescore. New bests
(share β of candidates; with the paired rule only challengers) make the
incumbent change; each round that changes it, and the seed, cost one
validation: V · Σ_N (N + 1) generator calls and V · Σ_N N episodes. The
shares are spread evenly over the iterations (event at t iff
⌊t·r⌋ > ⌊(t−1)·r⌋). Defaults are :data:`ASSUMED`; :func:`scenario_from_run`
measures all of them (and u, a) from a run directory.

**Tokens and dollars** per role = calls × mean prompt / completion tokens per
call (:mod:`ppol_nb.llm.latency`: measured history or assumed sizes) × the
role's configured prices; a role with both prices 0 on an endpoint is
``unknown`` (no price configured), offline costs 0.

**Wall time** (critical-path style, per-role latency L_r from measurement,
W = the in-flight window: the LLM layer's requests in flight per endpoint and
role, ``--max-workers``, default 128). A round runs as stages, one after another;
within a stage everything runs side by side, and a stage whose ready calls
exceed W queues behind it, slow(D) = max(1, D / W) for D calls ready at once:

    round = (1 + ρ) · L_mutator · slow(P)                                  the P mutator calls
          + gen(main) + eps(main)                                          own evaluations (+ pairings
                                                                           when ``speculative_rescore``)
          + gen(pair) + eps(pair)                                          pairings otherwise
          + gen(confirm) + eps(confirm)                                    confirmations
          + L_reflection · slow(P)                                         critiques
          + validation, when validations block (no ``background_validation``)
    gen(S) = g(max N of S) · L_generator · slow(Σ_tasks min(N, X))         (a seed-shaped program's chain
             g(N) = 1 + ⌈N / X⌉, X = MAX_EXPANSION_WORKERS (8)              per task; tasks run at once)
    eps(S) = Σ_{r ∈ user, agent} c_r · L_r · slow(E_S · c_r / (u + a))     (E_S episodes at once, each
                                                                            c_user = u, c_agent = a calls deep)
    total  = Σ_rounds round

A background validation (every N's personas at once, then one batch of
episodes) adds its episodes to the next round's E_main (they share the
window) and the run ends only after it: total = max(Σ rounds, max_r [Σ_{r' ≤ r}
round + V_r]). Mean episode depth is used and client-side CPU time (τ²
environments, the sandbox, fitness scoring) is not modelled, so a run whose
episodes vary a lot, or a busy machine, takes longer than this;
``benchmarks/bench_estimate.py`` measures the gap.

Early stop (``early_stop_patience``) and the ``max_cost_usd`` /
``max_wall_time_s`` budgets can only end a run earlier: the estimate is for
all I iterations and is an upper bound ("≤") whenever one of them is set.
Persona and response caches make a rerun cheaper than this.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from ..llm.config import DEFAULT_MAX_CONCURRENCY
from ..personas.toolkit import MAX_EXPANSION_WORKERS as EXPANSION_WORKERS
from .config import EvolutionConfig
from .curriculum import MINIBATCH_SIZE, minibatch_for

ROLES = ("mutator", "reflection", "generator", "user", "agent")

# Shares the run decides; spread evenly (see the module doc). Per-episode calls are a rough τ² figure
# (retail/airline with an LLM agent; tool calls count as agent calls).
ASSUMED = {"calls_per_episode": {"user": 10.0, "agent": 15.0}, "challenger_rate": 0.3, "new_best_rate": 0.15,
           "failure_rate": 0.0, "rewrite_rate": 0.0}


@dataclass(frozen=True)
class Scenario:
    """What only the run decides: per-episode calls and the shares of the module doc."""

    user_per_episode: float = ASSUMED["calls_per_episode"]["user"]
    agent_per_episode: float = ASSUMED["calls_per_episode"]["agent"]
    challenger_rate: float = ASSUMED["challenger_rate"]
    new_best_rate: float = ASSUMED["new_best_rate"]
    failure_rate: float = ASSUMED["failure_rate"]
    rewrite_rate: float = ASSUMED["rewrite_rate"]
    source: str = "assumed"

    def __post_init__(self) -> None:
        for name in ("challenger_rate", "new_best_rate", "failure_rate", "rewrite_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"Scenario.{name} must be in [0, 1]")
        if self.user_per_episode < 0 or self.agent_per_episode < 0:
            raise ValueError("calls per episode must be >= 0")


@dataclass
class Stage:
    """Fitness calls that run side by side: the deepest generation chain, how many generator calls
    are ready at once, and how many episodes run at once."""

    gen_depth: float = 0.0
    gen_at_once: float = 0.0  # generator calls ready together (expansions of every generating task)
    episodes: float = 0.0

    def add(self, gen_depth: float, gen_at_once: float, episodes: float) -> None:
        self.gen_depth = max(self.gen_depth, gen_depth)
        self.gen_at_once += gen_at_once
        self.episodes += episodes


@dataclass
class Round:
    """Work of one round: calls per role (for tokens and dollars) and its stages (for wall time)."""

    iterations: list[int]
    calls: dict[str, float] = field(default_factory=dict)
    mutator_depth: float = 0.0
    main: Stage = field(default_factory=Stage)  # candidates' own evaluations (+ speculative pairings)
    pair_after: Stage = field(default_factory=Stage)  # pairings that wait for the candidates
    confirm: Stage = field(default_factory=Stage)
    reflection: bool = False
    validation: Stage | None = None
    validation_calls: dict[str, float] = field(default_factory=dict)


def _gen_depth(n: int) -> float:
    """Sequential generator calls of a seed-shaped program for N personas: population, then the
    expansions in waves of :data:`EXPANSION_WORKERS` (``toolkit.expand_all``)."""
    return float(1 + math.ceil(n / EXPANSION_WORKERS))


def _event(rate: float, i: int) -> bool:
    """The i-th (1-based) trial of an evenly spread share ``rate``."""
    return math.floor(i * rate + 1e-9) > math.floor((i - 1) * rate + 1e-9)


def _add(into: dict, calls: Mapping) -> None:
    for role, n in calls.items():
        into[role] = into.get(role, 0.0) + n


def count_calls(config: EvolutionConfig, train_pool, n_val: int, scenario: Scenario = Scenario(),
                minibatch_size: int = MINIBATCH_SIZE) -> dict:
    """Replay the engine's flow for ``config`` (resolved: P, speculation, validation mode set) on a
    scenario: calls per role, fitness calls by kind, episodes, validations and the rounds."""
    cfg = config.for_world()
    pool = [str(t) for t in train_pool]
    u, a = scenario.user_per_episode, scenario.agent_per_episode
    generated: set[tuple[str, str, int]] = set()  # persona cache: (program, task, N)
    known: set[tuple[str, int]] = set()  # stored scores: (program, context)
    fitness = {"evaluate": 0, "rescore": 0, "validate": 0}
    episodes = 0.0

    def fitness_call(rnd: Round, stage: Stage, pid: str, t: int, own: bool) -> None:
        nonlocal episodes
        mb = minibatch_for(pool, t, minibatch_size, cfg.curriculum, cfg.lambda_b_schedule)
        new = [task for task in mb.task_ids if (pid, task, mb.n) not in generated]
        generated.update((pid, task, mb.n) for task in new)
        known.add((pid, t))
        fitness["evaluate" if own else "rescore"] += 1
        n_eps = mb.n_episodes
        episodes += n_eps
        reflect = bool(own and cfg.reflection)
        _add(rnd.calls, {"generator": float(len(new) * (mb.n + 1)), "user": n_eps * u, "agent": n_eps * a,
                         "reflection": float(reflect)})
        stage.add(_gen_depth(mb.n) if new else 0.0, float(len(new) * min(mb.n, EXPANSION_WORKERS)), float(n_eps))
        rnd.reflection = rnd.reflection or reflect

    def validation(rnd: Round) -> None:
        nonlocal episodes
        fitness["validate"] += 1
        eps = n_val * sum(cfg.curriculum)
        episodes += eps
        rnd.validation_calls = {"generator": float(n_val * sum(n + 1 for n in cfg.curriculum)),
                                "user": eps * u, "agent": eps * a}
        # every N's personas at once, then one batch of episodes (PPolEvaluator.validate on an endpoint)
        rnd.validation = Stage(_gen_depth(max(cfg.curriculum)),
                               float(n_val * sum(min(n, EXPANSION_WORKERS) for n in cfg.curriculum)), float(eps))

    validate = cfg.validate_on_new_best and n_val > 0
    rounds: list[Round] = []
    seed = Round([0])
    fitness_call(seed, seed.main, "p0", 0, own=True)
    if validate:
        validation(seed)
    rounds.append(seed)
    incumbent, challengers, new_bests = "p0", 0, 0
    pairing = cfg.comparison == "paired"
    t = 1
    while t <= cfg.max_iterations:
        rnd = Round(list(range(t, min(t + cfg.parallel_evaluations, cfg.max_iterations + 1))))
        rnd.mutator_depth = 1.0 + scenario.rewrite_rate
        round_incumbent, changed = incumbent, False
        for it in rnd.iterations:
            pid = f"p{it}"
            _add(rnd.calls, {"mutator": 1.0 + scenario.rewrite_rate})
            failed = _event(scenario.failure_rate, it)
            if pairing and (cfg.speculative_rescore or not failed) and (round_incumbent, it) not in known:
                stage = rnd.main if cfg.speculative_rescore else rnd.pair_after
                fitness_call(rnd, stage, round_incumbent, it, own=False)
            if failed:
                continue
            fitness_call(rnd, rnd.main, pid, it, own=True)
            if pairing:
                won = False
                if _event(scenario.challenger_rate, it):
                    challengers += 1
                    for ctx in range(it + 1, it + max(1, cfg.confirm_evaluations)):
                        for who in (pid, round_incumbent):
                            if (who, ctx) not in known:
                                fitness_call(rnd, rnd.confirm, who, ctx, own=False)
                    won = _event(min(1.0, scenario.new_best_rate / scenario.challenger_rate), challengers)
            else:
                won = _event(scenario.new_best_rate, it)
            if won:
                incumbent, changed, new_bests = pid, True, new_bests + 1
        if changed and validate:
            validation(rnd)
        rounds.append(rnd)
        t = rnd.iterations[-1] + 1
    total: dict[str, float] = {r: 0.0 for r in ROLES}
    for rnd in rounds:
        _add(total, rnd.calls)
        _add(total, rnd.validation_calls)
    return {"calls": {r: total.get(r, 0.0) for r in ROLES}, "fitness_calls": fitness, "episodes": episodes,
            "validations": fitness["validate"], "new_bests": new_bests, "rounds": rounds,
            "config": {"max_iterations": cfg.max_iterations, "parallel_evaluations": cfg.parallel_evaluations,
                       "comparison": cfg.comparison, "confirm_evaluations": cfg.confirm_evaluations,
                       "speculative_rescore": cfg.speculative_rescore,
                       "background_validation": cfg.background_validation, "reflection": cfg.reflection,
                       "islands": cfg.islands, "curriculum": list(cfg.curriculum), "minibatch_size": minibatch_size,
                       "train_pool": len(pool), "validation_tasks": n_val},
            "scenario": asdict(scenario)}


def wall_time(plan: dict, latency: Mapping[str, float], window: int, background_validation: bool) -> dict:
    """Wall time of a :func:`count_calls` plan at per-role ``latency`` through an in-flight ``window``
    (the stage model of the module doc)."""
    if window < 1:
        raise ValueError("window must be >= 1")
    u, a = plan["scenario"]["user_per_episode"], plan["scenario"]["agent_per_episode"]

    def slow(demand: float) -> float:  # a stage's calls queue behind the window when more are ready at once
        return max(1.0, demand / window)

    def stage(st: Stage | None, extra_episodes: float = 0.0) -> float:
        if st is None:
            return 0.0
        out = st.gen_depth * latency["generator"] * slow(st.gen_at_once) if st.gen_depth else 0.0
        eps = st.episodes + extra_episodes
        if st.episodes and u + a:
            out += sum(k * latency[role] * slow(eps * k / (u + a)) for role, k in (("user", u), ("agent", a)) if k)
        return out

    times, finish, elapsed, carried = [], 0.0, 0.0, 0.0
    for rnd in plan["rounds"]:
        n = len(rnd.iterations)
        depth = rnd.mutator_depth * latency["mutator"] * slow(n) if rnd.mutator_depth else 0.0
        depth += stage(rnd.main, carried) + stage(rnd.pair_after) + stage(rnd.confirm)
        depth += latency["reflection"] * slow(n) if rnd.reflection else 0.0
        carried = 0.0
        v = stage(rnd.validation)
        if not background_validation:
            depth += v
        elif rnd.validation is not None:
            carried = rnd.validation.episodes  # it shares the window with the next round's episodes
        elapsed += depth
        times.append(depth)
        finish = max(finish, elapsed + (v if background_validation else 0.0))
    return {"wall_s": max(elapsed, finish), "round_s": times}


def _priced(plan: dict, measures: Mapping, prices: Mapping | None, window: int, background_validation: bool,
            offline: bool) -> dict:
    """Rows per role (calls, tokens, dollars, latency), total dollars and wall time of a plan."""
    roles = {}
    for role in ROLES:
        calls = plan["calls"][role]
        m = measures.get(role)
        row = {"calls": round(calls)}
        if m is not None and not offline:
            row.update(prompt_tokens=round(calls * m.prompt_tokens), completion_tokens=round(calls * m.completion_tokens),
                       latency_s=m.latency_s, measured=m.source)
            price = (prices or {}).get(role)
            if price is None or not any(price):
                row["usd"] = None  # no price configured
            else:
                row["usd"] = (row["prompt_tokens"] * price[0] + row["completion_tokens"] * price[1]) / 1e6
        elif offline:
            row["usd"] = 0.0
        roles[role] = row
    usd = None if any(r.get("usd") is None for r in roles.values()) else sum(r["usd"] for r in roles.values())
    wall = None
    if not offline and all(measures.get(r) is not None and measures[r].latency_s is not None for r in ROLES):
        latency = {r: float(measures[r].latency_s) for r in ROLES}
        wall = wall_time(plan, latency, window, background_validation)["wall_s"]
    return {"roles": roles, "total_calls": round(sum(plan["calls"].values())), "episodes": round(plan["episodes"]),
            "usd": usd, "wall_s": wall, "window": window, "offline": offline, "scenario": plan["scenario"]}


def estimate_run(config: EvolutionConfig, train_pool, n_val: int, measures: Mapping, prices: Mapping | None = None,
                 window: int = DEFAULT_MAX_CONCURRENCY, scenario: Scenario = Scenario(), minibatch_size: int = MINIBATCH_SIZE,
                 offline: bool = False) -> dict:
    """Calls, tokens, dollars and wall time per role of a search (see the module doc).

    ``measures`` maps role -> :class:`~ppol_nb.llm.latency.CallMeasure` (offline: may be empty);
    ``prices`` role -> (USD per million prompt tokens, per million completion tokens).
    """
    cfg = config.for_world()
    plan = count_calls(cfg, train_pool, n_val, scenario, minibatch_size)
    out = _priced(plan, measures, prices, window, bool(cfg.background_validation), offline)
    bound = cfg.early_stop_patience is not None and cfg.early_stop_patience < cfg.max_iterations
    out.update(fitness_calls=plan["fitness_calls"], validations=plan["validations"], config=plan["config"],
               upper_bound=bound or cfg.max_cost_usd is not None or cfg.max_wall_time_s is not None,
               kind="evolve")
    if cfg.max_wall_time_s is not None and out["wall_s"] is not None:
        out["wall_s"] = min(out["wall_s"], cfg.max_wall_time_s)
    if cfg.max_cost_usd is not None and out["usd"] is not None:
        out["usd"] = min(out["usd"], cfg.max_cost_usd)
    return out


def estimate_benchmark(n_tasks: int, n_personas: int, measures: Mapping, prices: Mapping | None = None,
                       window: int = DEFAULT_MAX_CONCURRENCY, scenario: Scenario = Scenario(), offline: bool = False) -> dict:
    """The held-out benchmark (:mod:`.benchmark`): per test task one base episode and ``n_personas``
    episodes each of DP, PPol: Initial and PPol: Evolved; generator calls: DP one per task, each
    program N + 1 per task (seed-shaped). One stage: every generation at once, then every episode."""
    eps = float(n_tasks * (1 + 3 * n_personas))
    u, a = scenario.user_per_episode, scenario.agent_per_episode
    calls = dict.fromkeys(ROLES, 0.0)
    calls.update(generator=float(n_tasks * (1 + 2 * (n_personas + 1))), user=eps * u, agent=eps * a)
    rnd = Round([], calls=calls, main=Stage(_gen_depth(n_personas), float(2 * n_tasks * min(n_personas, EXPANSION_WORKERS)
                                                                          + n_tasks), eps))
    plan = {"calls": calls, "episodes": eps, "rounds": [rnd], "scenario": asdict(scenario)}
    out = _priced(plan, measures, prices, window, False, offline)
    out.update(kind="benchmark", upper_bound=False, config={"n_tasks": n_tasks, "n_personas": n_personas})
    return out


def estimate_search(domain: str, backend, config: EvolutionConfig, train_limit: int | None = None, run_dir=None,
                    probe: bool = True, minibatch_size: int = MINIBATCH_SIZE) -> dict:
    """What ``build_run(domain, backend, ..., config=config, train_limit=...)`` will cost, before it starts.

    The config is resolved for the backend's world (candidates in flight, see
    :meth:`EvolutionConfig.for_world`). Measurements, best first: ``run_dir`` (an
    earlier or resumed run: its shares and calls per episode, and the per-call
    latency and tokens in its ``llm_measured.json``), the backend's own ledger
    (a notebook's backend after some work), then a probe of each endpoint
    (``probe=False``: none; latency then unknown). Offline: calls only.
    """
    from pathlib import Path

    from ..llm.latency import MEASURED_FILE, load_measured, measure
    from ..simulation.tau2_bridge import load_tasks
    from .curriculum import split_validation

    run_dir = Path(run_dir) if run_dir is not None else None
    scenario = Scenario()
    if run_dir is not None and (run_dir / "evolution.sqlite").exists():
        try:
            scenario = scenario_from_run(run_dir)
        except ValueError:
            pass  # a run with only its seed: no shares to measure yet
    train = load_tasks(domain, "train")
    train = train[:train_limit] if train_limit else train
    pool, val = split_validation([t.id for t in train])
    defaults = getattr(backend, "search_defaults", None)
    config = config.for_world(defaults() if callable(defaults) else None)
    if getattr(backend, "name", None) != "openai":
        return estimate_run(config, pool, len(val), {}, scenario=scenario, minibatch_size=minibatch_size,
                            offline=True)
    llm = backend.client.config
    history = load_measured(run_dir / MEASURED_FILE) if run_dir is not None else []
    history += [r for r in backend.ledger.rows() if r.get("backend") != "offline"]
    measures = measure(llm, ROLES, history_rows=history, send_probe=probe)
    prices = {r: (llm.role(r).price_in_per_mtok, llm.role(r).price_out_per_mtok) for r in ROLES}
    return estimate_run(config, pool, len(val), measures, prices=prices, window=llm.max_concurrency,
                        scenario=scenario, minibatch_size=minibatch_size)


def scenario_from_run(run_dir) -> Scenario:
    """The shares and per-episode calls a stored run actually had (its database and episode files)."""
    import json
    from pathlib import Path

    from .database import FILENAME, RunDatabase

    run_dir = Path(run_dir)
    db = RunDatabase(run_dir / FILENAME)
    try:
        programs = [p for p in db.programs() if p.iteration > 0]
        new_bests = [e for e in db.events("new_best") if e.get("iteration", 0) > 0]
    finally:
        db.close()
    if not programs:
        raise ValueError(f"{run_dir}: no candidates stored to measure a scenario from")
    evaluated = [p for p in programs if p.mutation_kind != "failed" and p.source.strip()
                 and not (p.error or "").startswith(("duplicate of", "mutator returned an empty"))]
    challengers = [p for p in evaluated if (p.comparison or {}).get("challenger")]
    users = agents = n_eps = 0
    for path in run_dir.glob("episodes/*/episodes.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            # every user message is one user-simulator call; the episode's other calls are the agent's
            # (τ²'s opening greeting is an assistant message that is no call, so messages would overcount)
            said = [m.get("role") for m in rec.get("messages") or []].count("user")
            users, agents = users + said, agents + max(0, int(rec.get("llm_calls") or 0) - said)
            n_eps += 1
    n = len(programs)
    return Scenario(user_per_episode=users / n_eps if n_eps else ASSUMED["calls_per_episode"]["user"],
                    agent_per_episode=agents / n_eps if n_eps else ASSUMED["calls_per_episode"]["agent"],
                    challenger_rate=len(challengers) / len(evaluated) if evaluated else 0.0,
                    new_best_rate=len(new_bests) / n, failure_rate=(n - len(evaluated)) / n,
                    # a failed mutation asked for the whole program too, before giving up
                    rewrite_rate=sum(p.mutation_kind in ("rewrite", "failed") for p in programs) / n,
                    source=f"measured from {run_dir}")


def format_estimate(est: dict) -> str:
    """A short block for a terminal: one row per role, then the totals."""
    le = "≤ " if est["upper_bound"] else ""
    c = est["config"]
    world = "offline: calls only" if est["offline"] else "endpoint"
    if est.get("kind") == "benchmark":
        what = f"benchmark: {c['n_tasks']} test tasks, {c['n_personas']} personas per persona condition"
    else:
        what = (f"{c['max_iterations']} iterations, {c['parallel_evaluations']} candidate(s) in flight, comparison "
                f"{c['comparison']}, {est['fitness_calls']['evaluate']} evaluations + "
                f"{est['fitness_calls']['rescore']} rescores + {est['validations']} validations")
    lines = [f"estimate ({world}; {what}, ~{est['episodes']:,} episodes; scenario {est['scenario']['source']}):"]
    lines.append(f"  {'role':<11}{'calls':>9}{'prompt tok':>13}{'compl. tok':>12}{'USD':>10}{'s/call':>8}  measured")
    for role, r in est["roles"].items():
        usd = r.get("usd")
        usd_s = "unknown" if usd is None and not est["offline"] else f"{usd or 0:.2f}"
        lat = r.get("latency_s")
        pt, ct = (f"{r[k]:,}" if k in r else "-" for k in ("prompt_tokens", "completion_tokens"))
        lines.append(f"  {role:<11}{r['calls']:>9,}{pt:>13}{ct:>12}"
                     f"{usd_s:>10}{(f'{lat:.2f}' if lat is not None else '-'):>8}  {r.get('measured', '-')}")
    usd = est["usd"]
    money = "$0 (offline)" if est["offline"] else (f"{le}${usd:,.2f}" if usd is not None else "unknown (no price)")
    wall = est["wall_s"]
    if est["offline"]:
        wall_s = "not estimated offline (no endpoint latency)"
    else:
        wall_s = f"{le}{_hms(wall)}" if wall is not None else "unknown (no latency measured)"
        wall_s += f", in-flight window {est['window']}"
    lines.append(f"  total: {le}{est['total_calls']:,} calls, {money}, wall {wall_s} "
                 "(formula: ppol_nb.evolution.estimate)")
    return "\n".join(lines)


def _hms(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def progress_fields(done: int, total: int, initial: int, elapsed_s: float, cost_usd: float,
                    config: EvolutionConfig) -> str:
    """The progress line's tail: elapsed, ETA (``≤`` when an early stop or budget may end the run first)
    and dollars so far. ETA = elapsed / iterations done this session × iterations left."""
    left = max(0, total - done)
    ran = done - initial
    may_stop = (config.early_stop_patience is not None or config.max_cost_usd is not None
                or config.max_wall_time_s is not None)
    if left == 0:
        eta = "0s"
    elif ran <= 0:
        eta = "?"
    else:
        secs = elapsed_s / ran * left
        if config.max_wall_time_s is not None:
            secs = min(secs, max(0.0, config.max_wall_time_s - elapsed_s))
        eta = ("≤" if may_stop else "") + _hms(secs)
    spent = f"${cost_usd:.3f}" + (f"/${config.max_cost_usd:g}" if config.max_cost_usd is not None else "")
    return f"elapsed {_hms(elapsed_s)}, ETA {eta}, {spent}"


__all__ = ["ASSUMED", "ROLES", "Scenario", "count_calls", "estimate_benchmark", "estimate_run", "estimate_search", "format_estimate", "progress_fields",
           "scenario_from_run", "wall_time"]
