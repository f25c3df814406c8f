"""A search's LLM calls, tokens, dollars and wall time per role, estimated before it runs (issue 19, item 3).

Roles: ``mutator``, ``reflection``, ``generator`` (the program's persona calls),
``user`` and ``agent``. PPol's fitness has no LLM judge (the discriminator is a
local classifier), so there is no judge row.

**Calls** come from replaying the engine's flow (:mod:`.engine`, :mod:`.ppol`,
:mod:`.comparison`) on the run's resolved config, with a *scenario* for what
only the run can decide. Notation: I = ``max_iterations``, P =
``parallel_evaluations``, K = ``confirm_evaluations``; minibatch t has k_t
tasks and N_t personas per task (:func:`.curriculum.minibatch_for`); u, a =
user and agent calls per episode; V = validation tasks. One *fitness call* of
program p on context t costs

    generator  Σ_{tasks of t not yet generated for (p, N_t)} (N_t + 1)   (a seed-shaped program:
               one population call + one expansion per persona; the persona cache makes a repeat free)
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

**Wall time** (critical-path style, per role latency L_r from measurement):

    T(chain) = Σ_r depth_r(chain) · L_r
    round    = max( max_c T(chain c) ∥ T(pair),  max_r calls_r(round) · L_r / W )
    total    = Σ_rounds round   (+ each validation, when validations block: not ``background_validation``)

with chain c = mutator (1 + ρ) → generation (N + 1, the per-task chain; tasks
run concurrently) → one episode (u + a sequential calls) → reflection →
confirmations (generation + episode each); ``∥`` is ``max`` when the incumbent's
pairing starts with the candidates (``speculative_rescore``), else a sum; W
is the in-flight window, the LLM layer's requests in flight per endpoint and
role (``--max-workers``, default 32), so a round can be no shorter than its
busiest role's calls pushed through W. A background validation (depth: one
N's generation chain + one episode, every N at once) overlaps later rounds but
the run ends after it: total = max(Σ rounds, max_r [Σ_{r' ≤ r} round + V_r]).
Mean episode depth is used, so a run whose longest episodes are much longer
than the mean takes longer than this.

Early stop (``early_stop_patience``) and the ``max_cost_usd`` /
``max_wall_time_s`` budgets can only end a run earlier: the estimate is for
all I iterations and is an upper bound ("≤") whenever one of them is set.
Persona and response caches make a rerun cheaper than this.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

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
class Round:
    """Work of one round: calls per role, the candidates' chains and the pairing as role depths."""

    iterations: list[int]
    calls: dict[str, float] = field(default_factory=dict)
    chains: list[dict[str, float]] = field(default_factory=list)
    pair: dict[str, float] = field(default_factory=dict)
    validation_calls: dict[str, float] = field(default_factory=dict)
    validation_depth: dict[str, float] = field(default_factory=dict)


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

    def fitness_call(pid: str, t: int, own: bool) -> tuple[dict, dict]:
        nonlocal episodes
        mb = minibatch_for(pool, t, minibatch_size, cfg.curriculum, cfg.lambda_b_schedule)
        new = [task for task in mb.task_ids if (pid, task, mb.n) not in generated]
        generated.update((pid, task, mb.n) for task in new)
        known.add((pid, t))
        fitness["evaluate" if own else "rescore"] += 1
        n_eps = mb.n_episodes
        episodes += n_eps
        reflect = 1.0 if (own and cfg.reflection) else 0.0
        calls = {"generator": float(len(new) * (mb.n + 1)), "user": n_eps * u, "agent": n_eps * a,
                 "reflection": reflect}
        depth = {"generator": float(mb.n + 1) if new else 0.0, "user": u, "agent": a, "reflection": reflect}
        return calls, depth

    def validation() -> tuple[dict, dict]:
        nonlocal episodes
        fitness["validate"] += 1
        eps = n_val * sum(cfg.curriculum)
        episodes += eps
        calls = {"generator": float(n_val * sum(n + 1 for n in cfg.curriculum)), "user": eps * u, "agent": eps * a}
        return calls, {"generator": float(max(cfg.curriculum) + 1), "user": u, "agent": a}

    validate = cfg.validate_on_new_best and n_val > 0
    rounds: list[Round] = []
    seed = Round([0])
    calls, depth = fitness_call("p0", 0, own=True)
    _add(seed.calls, calls)
    seed.chains.append(depth)
    if validate:
        seed.validation_calls, seed.validation_depth = validation()
    rounds.append(seed)
    incumbent, challengers, new_bests = "p0", 0, 0
    t = 1
    while t <= cfg.max_iterations:
        rnd = Round(list(range(t, min(t + cfg.parallel_evaluations, cfg.max_iterations + 1))))
        round_incumbent, changed = incumbent, False
        for it in rnd.iterations:
            pid = f"p{it}"
            chain = {"mutator": 1.0 + scenario.rewrite_rate}
            _add(rnd.calls, {"mutator": 1.0 + scenario.rewrite_rate})
            failed = _event(scenario.failure_rate, it)
            pairing = cfg.comparison == "paired"
            if pairing and (cfg.speculative_rescore or not failed) and (round_incumbent, it) not in known:
                calls, depth = fitness_call(round_incumbent, it, own=False)
                _add(rnd.calls, calls)
                # the round's pairings run side by side: the deepest of each kind of call bounds them
                rnd.pair = {r: max(rnd.pair.get(r, 0.0), d) for r, d in depth.items()}
            if not failed:
                calls, depth = fitness_call(pid, it, own=True)
                _add(rnd.calls, calls)
                _add(chain, depth)
                won = False
                if pairing:
                    if _event(scenario.challenger_rate, it):
                        challengers += 1
                        deepest: dict = {}
                        for ctx in range(it + 1, it + max(1, cfg.confirm_evaluations)):
                            for who in (pid, round_incumbent):
                                if (who, ctx) in known:
                                    continue
                                calls, depth = fitness_call(who, ctx, own=False)
                                _add(rnd.calls, calls)
                                if who == pid:
                                    _add(deepest, depth)
                        _add(chain, deepest)
                        share = min(1.0, scenario.new_best_rate / scenario.challenger_rate)
                        won = _event(share, challengers)
                else:
                    won = _event(scenario.new_best_rate, it)
                if won:
                    incumbent, changed, new_bests = pid, True, new_bests + 1
            rnd.chains.append(chain)
        if changed and validate:
            rnd.validation_calls, rnd.validation_depth = validation()
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


def _time(depth: Mapping, latency: Mapping) -> float:
    return sum(n * latency[r] for r, n in depth.items() if n)


def wall_time(plan: dict, latency: Mapping[str, float], window: int, background_validation: bool,
              speculative_rescore: bool) -> dict:
    """Critical-path wall time of a :func:`count_calls` plan at per-role ``latency`` (module doc)."""
    if window < 1:
        raise ValueError("window must be >= 1")
    depths, finish, elapsed = [], 0.0, 0.0
    for rnd in plan["rounds"]:
        cand = max((_time(c, latency) for c in rnd.chains), default=0.0)
        pair = _time(rnd.pair, latency)
        chain = max(cand, pair) if speculative_rescore else cand + pair
        busiest = max((n * latency[r] / window for r, n in rnd.calls.items()), default=0.0)
        depth = max(chain, busiest)
        v = 0.0
        if rnd.validation_calls:
            v = max(_time(rnd.validation_depth, latency),
                    max(n * latency[r] / window for r, n in rnd.validation_calls.items()))
        if not background_validation:
            depth += v
        elapsed += depth
        depths.append(depth)
        finish = max(finish, elapsed + (v if background_validation else 0.0))
    return {"wall_s": max(elapsed, finish), "round_s": depths}


def estimate_run(config: EvolutionConfig, train_pool, n_val: int, measures: Mapping, prices: Mapping | None = None,
                 window: int = 32, scenario: Scenario = Scenario(), minibatch_size: int = MINIBATCH_SIZE,
                 offline: bool = False) -> dict:
    """Calls, tokens, dollars and wall time per role (see the module doc).

    ``measures`` maps role -> :class:`~ppol_nb.llm.latency.CallMeasure` (offline: may be empty);
    ``prices`` role -> (USD per million prompt tokens, per million completion tokens).
    """
    cfg = config.for_world()
    plan = count_calls(cfg, train_pool, n_val, scenario, minibatch_size)
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
    bound = cfg.early_stop_patience is not None and cfg.early_stop_patience < cfg.max_iterations
    bound = bound or cfg.max_cost_usd is not None or cfg.max_wall_time_s is not None
    out = {"roles": roles, "total_calls": round(sum(plan["calls"].values())), "episodes": round(plan["episodes"]),
           "fitness_calls": plan["fitness_calls"], "validations": plan["validations"],
           "config": plan["config"], "scenario": plan["scenario"], "window": window,
           "upper_bound": bound, "offline": offline}
    known = [r for r in roles.values() if r.get("usd") is not None]
    out["usd"] = sum(r["usd"] for r in known) if known and len(known) == len(roles) else None
    if not offline and all(measures.get(r) is not None and measures[r].latency_s is not None for r in ROLES):
        latency = {r: float(measures[r].latency_s) for r in ROLES}
        wall = wall_time(plan, latency, window, bool(cfg.background_validation), bool(cfg.speculative_rescore))
        out["wall_s"] = wall["wall_s"]
    else:
        out["wall_s"] = None
    if cfg.max_wall_time_s is not None and out["wall_s"] is not None:
        out["wall_s"] = min(out["wall_s"], cfg.max_wall_time_s)
    if cfg.max_cost_usd is not None and out["usd"] is not None:
        out["usd"] = min(out["usd"], cfg.max_cost_usd)
    return out


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
    challengers = [p for p in evaluated if len((p.comparison or {}).get("pairs") or []) > 1
                   or ((p.comparison or {}).get("pairs") or [{}])[0].get("diff", 0) > 0]
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
    lines = [f"estimate ({'offline: calls only' if est['offline'] else 'endpoint'}; {c['max_iterations']} iterations, "
             f"{c['parallel_evaluations']} candidate(s) in flight, comparison {c['comparison']}, "
             f"{est['fitness_calls']['evaluate']} evaluations + {est['fitness_calls']['rescore']} rescores + "
             f"{est['validations']} validations, ~{est['episodes']:,} episodes; scenario {est['scenario']['source']}):"]
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
    seconds = int(round(seconds))
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


__all__ = ["ASSUMED", "ROLES", "Scenario", "count_calls", "estimate_run", "format_estimate", "progress_fields",
           "scenario_from_run", "wall_time"]
