"""PPol fitness in the evolution engine: curriculum arithmetic, evaluate/validate, reflection, benchmark, CLI.

Offline throughout: real τ² tasks, the offline user/agent, the offline generator
world and a small FitnessModel trained once per module (studies.baseline.BaselineStudy, 6 tasks).
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from ppol_nb.evolution import EvolutionConfig, EvolutionEngine, Proposal
from ppol_nb.evolution.benchmark import COLUMNS, run_benchmark
from ppol_nb.evolution.estimate import Scenario, count_calls
from ppol_nb.evolution.curriculum import minibatch_for, split_validation
from ppol_nb.evolution.evaluator import PPolEvaluator
from ppol_nb.evolution.reflection import (
    EXCERPT_CHARS,
    PERSONA_CHARS,
    customer_names,
    dialogue_excerpt,
    render_prompt,
)
from ppol_nb.studies.baseline import BaselineStudy
from ppol_nb.personas.programs import program_source
from ppol_nb.backends import OfflineBackend
from ppol_nb.simulation.tau2_bridge import load_tasks

SEED = program_source("seed")
INDEX_LIKE = re.compile(r"\btask\s*#?\s*\d+\b|\bp\d+\b", re.IGNORECASE)


# -- arithmetic -------------------------------------------------------------------------------


@pytest.mark.parametrize("domain, n_train, n_val", [("retail", 60, 14), ("airline", 24, 6)])
def test_validation_slice_matches_the_paper(domain, n_train, n_val):
    ids = [t.id for t in load_tasks(domain, "train")]
    train, val = split_validation(ids)
    assert (len(train), len(val)) == (n_train, n_val)
    assert not set(train) & set(val) and set(train) | set(val) == set(ids)
    assert train == [t for t in ids if t in set(train)]  # official order kept
    assert split_validation(ids) == (train, val)  # seeded
    assert split_validation(ids, seed=7)[1] != val


def test_minibatches_slide_wrap_and_follow_the_curriculum():
    pool = [f"t{i}" for i in range(24)]  # airline-sized pool
    first = minibatch_for(pool, 0)
    assert first.task_ids == ("t0", "t1", "t2", "t3", "t4") and (first.n, first.epoch) == (5, 0)
    wrap = minibatch_for(pool, 4)  # positions 20..24 -> wraps to t0
    assert wrap.task_ids == ("t20", "t21", "t22", "t23", "t0") and wrap.epoch == 0 and wrap.n == 5
    second = minibatch_for(pool, 5)  # start 25 = one completed sweep
    assert second.task_ids[0] == "t1" and (second.epoch, second.n) == (1, 8)
    assert minibatch_for(pool, 10).n == 10 and minibatch_for(pool, 500).n == 10
    lambdas = {mb.n: mb.lambdas for mb in (first, second, minibatch_for(pool, 10))}
    assert lambdas == {5: (0.75, 0.25), 8: pytest.approx((0.6, 0.4)), 10: (0.5, 0.5)}
    retail = [str(i) for i in range(60)]
    assert minibatch_for(retail, 11).task_ids == tuple(retail[55:60]) and minibatch_for(retail, 11).n == 5
    assert minibatch_for(retail, 12).task_ids == tuple(retail[:5]) and minibatch_for(retail, 12).n == 8
    assert minibatch_for(retail, 24).n == 10 and minibatch_for(retail, 12).n_episodes == 40


def test_cost_estimate_counts_the_paper_schedule():
    # The paper profile (raw rule), one candidate at a time, no new best: the seed and 70 candidates on the
    # 5 -> 8 -> 10 curriculum (12 + 12 + 47 minibatches of 5 tasks) and the seed's validation (14 tasks x 23).
    cfg = EvolutionConfig.profile("paper", parallel_evaluations=1, speculative_rescore=False,
                                  background_validation=False)
    plan = count_calls(cfg, [str(i) for i in range(60)], 14, Scenario(new_best_rate=0.0))
    assert plan["fitness_calls"] == {"evaluate": 71, "rescore": 0, "validate": 1}
    assert plan["episodes"] == 12 * 25 + 12 * 40 + 47 * 50 + 14 * 23
    assert plan["calls"]["mutator"] == 70 and plan["calls"]["reflection"] == 71


# -- a small real setup ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    backend = OfflineBackend()
    base = tmp_path_factory.mktemp("baseline")
    study = BaselineStudy(backend, domains=("retail",), limit=6, run_dir=str(base), progress=False).run()
    train = load_tasks("retail", "train")[:20]  # pool of 16, validation slice of 4
    return {"backend": backend, "model": study.results["retail"].model, "train": train,
            "fitness_dir": base / "fitness" / "retail"}


def _evaluator(setup, run_dir, **kw):
    return PPolEvaluator("retail", setup["model"], setup["backend"], OfflineBackend().generator(),
                         train_tasks=setup["train"], run_dir=run_dir, **kw)


@pytest.fixture(scope="module")
def evaluated(setup, tmp_path_factory):
    ev = _evaluator(setup, tmp_path_factory.mktemp("evo"))
    return ev, ev.evaluate(SEED, 0, "p00000-test")


def test_evaluate_scores_the_seed_program(evaluated):
    ev, result = evaluated
    assert result.error is None
    m = result.metrics
    for key in ("score", "hl", "coverage", "success_rate", "preservation_rate"):
        assert 0.0 <= m[key] <= 1.0, key
    assert (m["n"], m["n_episodes"], m["lambda_h"], m["lambda_b"]) == (5, 25, 0.75, 0.25)
    assert m["score"] == pytest.approx(m["lambda_h"] * m["hl"] + m["lambda_b"] * m["coverage"])
    assert result.llm_calls > 0 and result.cost_usd == 0.0  # offline-role calls, free
    assert result.artifacts["minibatch"]["task_ids"] == list(ev.minibatch(0).task_ids)
    assert len(result.artifacts["per_episode"]) == 25
    episodes = pd.read_json(ev.run_dir / "episodes" / "p00000-test" / "episodes.jsonl", lines=True)
    assert len(episodes) == 25 and (episodes["max_steps"] == 20).all()  # the training-rollout cap


def test_offline_reflection_follows_the_rules(evaluated):
    ev, result = evaluated
    text = result.artifacts["evaluator_reflection"]
    assert result.artifacts["reflection_source"] == "offline"
    assert 30 < len(text.split()) <= 300
    assert not INDEX_LIKE.search(text)
    names = {n for t in ev.minibatch(0).task_ids for n in customer_names(ev._tasks[t], "retail")}
    assert names and not any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text) for n in names)
    assert "human-likeness" in text and "Coverage" in text


def test_llm_reflection_prompt_is_clipped_and_anonymous(setup, evaluated):
    ev, _ = evaluated
    mb = ev.minibatch(0)
    tasks = [ev._tasks[t] for t in mb.task_ids]
    episodes = pd.read_json(ev.run_dir / "episodes" / "p00000-test" / "episodes.jsonl", lines=True)
    from ppol_nb.evolution.evaluator import score_episodes

    batch = score_episodes(setup["model"], episodes, mb.task_ids, mb.lambdas)
    inp = ev.reflection_input(batch, episodes, tasks, mb)
    assert len(inp.best) == len(inp.worst) == 2
    assert min(v.p_human for v in inp.best) >= max(v.p_human for v in inp.worst)
    for view in inp.best + inp.worst:
        assert len(view.excerpt) <= EXCERPT_CHARS and len(view.persona_text) <= PERSONA_CHARS
        assert len(view.fingerprint) == 19
    prompt = render_prompt(inp)
    assert not any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", prompt) for n in inp.banned_names)
    assert "300 words" in prompt and str(mb.task_ids[0]) not in re.findall(r"\btask\s+(\d+)", prompt, re.IGNORECASE)


def test_dialogue_excerpt_rules():
    long_agent = "A" * 120 + "B" * 200 + "C" * 100
    messages = [{"role": "assistant", "content": long_agent}, {"role": "tool", "content": "x" * 999}]
    messages += [{"role": "user", "content": f"turn {i} Jane Roe ###STOP###"} for i in range(40)]
    text = dialogue_excerpt(messages, names=["Jane Roe"])
    lines = text.splitlines()
    assert lines[0] == "Agent: " + "A" * 100 + " […] " + "C" * 100
    assert len(lines) == 20 and "Jane" not in text and "###" not in text and "x" * 10 not in text
    assert len(dialogue_excerpt([{"role": "user", "content": "w " * 3000}])) <= EXCERPT_CHARS


def test_broken_program_is_a_failed_evaluation(setup, tmp_path):
    result = _evaluator(setup, tmp_path).evaluate("def generate_personas(:\n", 3, "p00003-bad")
    assert result.error and "syntax" in result.error
    assert result.metrics["score"] == 0.0 and result.artifacts["error_kind"] == "syntax"
    assert "failed" in result.artifacts["evaluator_reflection"]


def test_rescore_is_the_same_fitness_without_reflection_in_its_own_episode_dir(evaluated):
    ev, result = evaluated
    again = ev.rescore(SEED, 0, "p00000-test")  # the same minibatch: the same episodes, the same M
    assert again.error is None and again.metrics["score"] == pytest.approx(result.metrics["score"])
    assert "evaluator_reflection" not in again.artifacts
    assert again.artifacts["minibatch"]["task_ids"] == list(ev.minibatch(0).task_ids)
    assert (ev.run_dir / "episodes" / "p00000-test" / "context-00000" / "episodes.jsonl").exists()
    other = ev.rescore(SEED, 1, "p00000-test")  # another iteration's window
    assert other.artifacts["minibatch"]["task_ids"] == list(ev.minibatch(1).task_ids) != list(ev.minibatch(0).task_ids)
    assert other.metrics["n_episodes"] == 25 and other.metrics["lambda_h"] == 0.75


def test_validate_scores_every_n(evaluated):
    ev, _ = evaluated
    from ppol_nb.evolution import ProgramRecord

    record = ProgramRecord(id="p00000-test", source=SEED, parent_id=None, island=0, iteration=0, generation=0)
    result = ev.validate(record)
    assert set(result["by_n"]) == {"5", "8", "10"}
    assert result["score"] == pytest.approx(sum(v["score"] for v in result["by_n"].values()) / 3)
    for n, row in result["by_n"].items():
        assert row["n_episodes"] == 4 * int(n)
        assert row["score"] == pytest.approx(0.5 * row["hl"] + 0.5 * row["coverage"])
    episodes = pd.read_json(ev.run_dir / "validation" / record.id / "episodes.jsonl", lines=True)
    assert len(episodes) == 4 * 23 and (episodes["max_steps"] == 30).all()  # the validation cap
    # The validation humans (MultiWOZ: 100 dialogues never trained on) as the human reference level.
    humans = result["humans"]
    assert humans["n_dialogues"] == 100 and humans["score"] == pytest.approx(0.5 * humans["hl"] + 0.5 * humans["coverage"])
    assert humans["hl"] > result["by_n"]["5"]["hl"]


# -- the engine end to end ---------------------------------------------------------------------


class CommentMutator:
    """Test-only stand-in: a valid, changed child (the parent plus a comment line)."""

    def propose(self, parent, inspirations, rng, iteration):
        return Proposal(source=parent.source + f"\n# variant {iteration}\n", kind="rewrite", angle="test")


@pytest.fixture(scope="module")
def engine_run(setup, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("engine")
    # The paired rule (the `paired` variant; the profiles' default is the authors' raw score) so that the
    # incumbent's re-evaluations through the real evaluator are exercised too.
    config = EvolutionConfig.profile("ci", max_iterations=2, islands=1, early_stop_patience=None,
                                     comparison="paired", confirm_evaluations=2)
    engine = EvolutionEngine(config, _evaluator(setup, run_dir), CommentMutator(), run_dir, SEED)
    summary = engine.run(progress=False)
    return engine, summary, run_dir


def test_engine_runs_two_iterations_end_to_end(engine_run):
    engine, summary, run_dir = engine_run
    records = engine.records()
    assert [r.iteration for r in records] == [0, 1, 2] and all(r.ok for r in records)
    assert summary.stop_reason == "max_iterations"
    assert all(r.metrics["n"] == 5 for r in records)
    assert all(r.artifacts["evaluator_reflection"] for r in records)
    assert engine.best(by="validation") is not None  # the seed at least was validated
    assert records[0].validation.get("score") is not None
    assert (run_dir / "best_program.py").exists()
    # every candidate was paired with the incumbent re-scored on the candidate's own minibatch
    evals = engine.reevaluations()
    for r in records[1:]:
        pair = r.comparison["pairs"][0]
        row = evals[(evals.program_id == r.comparison["incumbent_id"]) & (evals.context == r.iteration)]
        assert pair["context"] == r.iteration and row.score.item() == pair["incumbent_score"]
        assert row.minibatch.item()["task_ids"] == r.artifacts["minibatch"]["task_ids"]
    assert summary.cost_by_role["rescore"]["llm_calls"] > 0  # re-evaluations are on the budget


def test_benchmark_writes_rows_episodes_and_provenance(setup, engine_run, tmp_path):
    _, _, run_dir = engine_run
    out = tmp_path / "bench" / "benchmark.csv"
    table = run_benchmark(run_dir, "retail", setup["backend"], setup["model"], out, n_personas=3, limit=2)
    csv = pd.read_csv(out)
    assert list(csv.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert list(csv.condition) == ["Humans", "Base-simulator", "DP Personas", "PPol: Initial", "PPol: Evolved"]
    assert csv.agent.str.startswith("gold-plan offline agent").all()  # whose success_rate it is, on every row
    rows = csv.set_index("condition")
    assert rows.loc["Base-simulator", "n_episodes"] == 2 and rows.loc["PPol: Evolved", "n_episodes"] == 6
    assert (rows.loc[rows.index != "Humans", "n_tasks"] == 2).all()
    for cond, row in rows.iterrows():
        assert row.score == pytest.approx(0.5 * row.hl + 0.5 * row.coverage), cond
    episodes = pd.read_json(out.parent / "episodes.jsonl", lines=True)
    assert set(episodes.condition) == {"base", "dp", "seed", "program"} and len(episodes) == 2 + 3 * 6
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["evolved"]["selected_by"] == "validation" and manifest["n_personas"] == 3
    assert len(table) == 5


# -- CLI ----------------------------------------------------------------------------------------


def test_cli_paper_profile_on_a_paid_endpoint_needs_yes(tmp_path, capsys):
    from ppol_nb.cli import main

    code = main(["evolve", "--domain", "airline", "--backend", "openai", "--model", "m", "--profile", "paper",
                 "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    # the estimate without a request: calls and tokens per role, latency unknown until --yes
    assert code == 2 and "--yes" in out and "estimate (endpoint; 70 iterations" in out and "mutator" in out
    assert "wall unknown (no latency measured)" in out
    assert not (tmp_path / "run").exists()


def test_cli_evolve_and_benchmark_offline(setup, tmp_path, capsys):
    pytest.importorskip("ppol_nb.offline.mutator")
    from ppol_nb.cli import main

    run = tmp_path / "run"
    assert main(["evolve", "--domain", "retail", "--profile", "ci", "--max-iterations", "1", "--train-limit", "10",
                 "--max-steps", "12", "--fitness", str(setup["fitness_dir"]), "--out", str(run), "--quiet"]) == 0
    assert "stop reason" in capsys.readouterr().out and (run / "run_manifest.json").exists()
    manifest = json.loads((run / "run_manifest.json").read_text())
    assert (manifest["config"]["train_max_steps"], manifest["config"]["val_max_steps"]) == (12, 30)
    assert (manifest["evaluator"]["max_steps"], manifest["evaluator"]["val_max_steps"]) == (12, 30)
    out = tmp_path / "bench.csv"
    assert main(["benchmark", "--run", str(run / "best_program.py"), "--domain", "retail", "--limit", "1",
                 "--n-personas", "2", "--fitness", str(setup["fitness_dir"]), "--out", str(out), "--quiet"]) == 0
    assert list(pd.read_csv(out).columns[: len(COLUMNS)]) == list(COLUMNS)
    assert json.loads(out.with_suffix(".json").read_text())["max_steps"] == 30
    episodes = pd.read_json(tmp_path / "episodes.jsonl", lines=True)
    assert (episodes["max_steps"] == 30).all()


def test_llm_reflection_call_settings_and_output_rules(setup, evaluated):
    from types import SimpleNamespace

    from ppol_nb.evolution.evaluator import score_episodes
    from ppol_nb.evolution.reflection import LLMReflection

    ev, _ = evaluated
    mb = ev.minibatch(0)
    episodes = pd.read_json(ev.run_dir / "episodes" / "p00000-test" / "episodes.jsonl", lines=True)
    inp = ev.reflection_input(score_episodes(setup["model"], episodes, mb.task_ids, mb.lambdas), episodes,
                              [ev._tasks[t] for t in mb.task_ids], mb)
    name = next(n for n in inp.banned_names if " " in n)
    calls = []

    class StubClient:
        def chat(self, role, messages, seed=None, **kw):
            calls.append((role, kw))
            return SimpleNamespace(content=f"In Task 3, {name} (p0) was too polite. " + "word " * 400, cost_usd=0.01)

    critique = LLMReflection(StubClient(), prompt="ppol_nb").reflect(inp)  # the earlier rule: cut at 300 words
    assert calls == [("reflection", {"temperature": 0.25, "max_tokens": 2000})]
    assert name not in critique.text and not INDEX_LIKE.search(critique.text)
    assert len(critique.text.split()) <= 300 and (critique.llm_calls, critique.cost_usd) == (1, 0.01)
    whole = LLMReflection(StubClient()).reflect(inp)  # the authors': kept whole up to 10,000 characters
    assert name not in whole.text and not INDEX_LIKE.search(whole.text) and len(whole.text.split()) > 400
    assert whole.text.startswith(critique.text.rstrip("…")) and len(whole.text) <= 10_000


def test_llm_path_accounts_generator_episode_and_reflection_spend(setup, fake_openai, tmp_path):
    """Generator world, τ²'s LLM user/agent and the LLM reflector against a loopback endpoint."""
    from fake_openai_server import text_reply, tool_call_reply

    from ppol_nb.llm import LLMConfig, RoleConfig
    from ppol_nb.backends import LLMBackend

    def respond(request):
        system, last = request["messages"][0]["content"], request["messages"][-1]
        if "design groups of realistic customers" in system:
            n = int(re.search(r"Propose (\d+) different", last["content"]).group(1))
            return text_reply(json.dumps([
                {"persona_id": f"m{i}", "description": f"A busy commuter number {i} typing on a phone.",
                 "axis_placement": {"terse": i % 2 == 0, "skeptical": True, "frustrated": False,
                                    "ambiguous": False}, "reasoning": "contrast"} for i in range(n)]))
        if "You review simulated customers" in system:  # before the generator: it mentions briefs too
            return text_reply("In Task 3 Yusuf Rossi (p0) was too polite; prefer terse replies.")
        if "behaviour briefs" in system:
            return text_reply("You type short lowercase messages and ask why the agent needs each detail first.")
        if "<scenario>" in system:  # the user simulator
            if len(request["messages"]) <= 2:
                return text_reply("hi, Yusuf Rossi here, zip 19122")
            return text_reply("ok ###STOP###")
        if last["role"] == "tool":
            return text_reply("Found your account.")
        return tool_call_reply("find_user_id_by_name_zip", {"first_name": "Yusuf", "last_name": "Rossi",
                                                            "zip": "19122"})

    server = fake_openai(respond)
    role = RoleConfig(model="fake-model", base_url=server.url, api_key_env=None, price_in_per_mtok=1.0,
                      price_out_per_mtok=2.0)
    backend = LLMBackend.from_config(LLMConfig(backend="openai", default=role, backoff_base_s=0.01))
    from ppol_nb.evolution.reflection import LLMReflection

    ev = PPolEvaluator("retail", setup["model"], backend, backend.generator(),
                       train_tasks=load_tasks("retail", "train")[:6], minibatch_size=2, curriculum=(2,),
                       run_dir=tmp_path, reflection=LLMReflection(backend.client), max_workers=2)
    result = ev.evaluate(SEED, 0, "p00000-llm")
    assert result.error is None, result.error
    assert result.metrics["n_episodes"] == 4 and result.artifacts["reflection_source"] == "llm"
    text = result.artifacts["evaluator_reflection"]
    assert "Yusuf" not in text and not INDEX_LIKE.search(text) and "terse" in text
    ledger = backend.client.ledger.to_frame()
    assert {"generator", "user", "agent", "reflection"} <= set(ledger.role)
    assert ledger[ledger.role == "generator"].episode_id.str.startswith("generate:p00000-llm").all()
    assert result.cost_usd == pytest.approx(ledger.cost_usd.sum()) and result.cost_usd > 0
    assert result.llm_calls == len(ledger)


def test_paper_profile_requests_carry_history_and_task_text_and_a_failed_diff_spends_its_iteration(
        setup, fake_openai, tmp_path):
    """A paper-profile search built by build_run, its mutator and reflector on a loopback endpoint (episodes
    offline): the recorded requests show the evolution history in the mutator's prompt, each task's scenario
    text in the reflector's, and an unusable diff answered by no follow-up, its iteration spent."""
    from dataclasses import dataclass

    from fake_openai_server import text_reply

    from ppol_nb.backends import LLMBackend
    from ppol_nb.evolution.mutation import AUTHORS_SYSTEM_PROMPT
    from ppol_nb.evolution.reflection import TASK_TEXT_CHARS
    from ppol_nb.evolution.runs import build_run
    from ppol_nb.llm import LLMClient, LLMConfig
    from ppol_nb.personas.context import task_context

    edits = iter([
        ('<<<<<<< SEARCH\n        "definition": "Communicates in as few words as possible, leaving out greetings, '
         'courtesy and elaboration.",\n=======\n        "definition": "Says as little as possible: fragments, no '
         'courtesy.",\n>>>>>>> REPLACE\n'),
        "<<<<<<< SEARCH\nthis line is not in the program\n=======\nsomething else\n>>>>>>> REPLACE\n",
        "<<<<<<< SEARCH\nAnswer with JSON only.\n=======\nAnswer with JSON only, nothing else.\n>>>>>>> REPLACE\n",
    ])
    critique = "The customers were too polite and handed everything over at once. " * 40 + "LAST-ADVICE-9931"

    def respond(req):
        if req["messages"][0]["content"].startswith("You review simulated customers"):
            return text_reply(critique)
        return text_reply(next(edits))

    server = fake_openai(respond)
    client = LLMClient(LLMConfig.openai("fake-model", base_url=server.url, api_key_env=None, max_retries=0))
    llm = LLMBackend(client)

    @dataclass
    class OfflineEpisodesLLMSearch(OfflineBackend):  # what build_run asks of the backend goes to the endpoint
        def mutator(self, **kwargs):
            return llm.mutator(**kwargs)

        def reflector(self, **kwargs):
            return llm.reflector(**kwargs)

    config = EvolutionConfig.profile("paper", islands=1, population_size=10, max_iterations=3,
                                     early_stop_patience=None, curriculum=(2,), validate_on_new_best=False)
    assert (config.mutator_prompt, config.rewrite_on_failed_diff, config.reflection_prompt,
            config.comparison, config.confirm_evaluations) == ("authors", False, "authors", "raw", 1)
    run = build_run("retail", OfflineEpisodesLLMSearch(), tmp_path / "run", config=config,
                    fitness_dir=setup["fitness_dir"], train_limit=6, progress=False, minibatch_size=2)
    run.engine.run(progress=False)

    mutations = [r for r in server.requests if r["messages"][0]["content"] == AUTHORS_SYSTEM_PROMPT]
    reflections = [r for r in server.requests if r not in mutations]
    assert len(mutations) == 3 and all(len(r["messages"]) == 2 for r in mutations)  # no follow-up ever
    records = {r.iteration: r for r in run.engine.records()}
    assert sorted(records) == [0, 1, 2, 3]  # the failed diff took iteration 2; the budget of 3 is spent
    assert records[2].mutation_kind == "failed" and "none of the 1 SEARCH block(s) matches" in records[2].error
    assert records[1].ok and records[3].ok and len(reflections) == 3  # seed and the two children

    first, second, third = (r["messages"][1]["content"] for r in mutations)
    assert "(no earlier attempts on this island)" in first
    assert "Attempt of iteration 1" in second and f"score={records[1].metrics['score']:.4f}" in second
    assert third.index("Attempt of iteration 2") < third.index("Attempt of iteration 1")
    assert "failed: mutator raised MutationError" in third and "none of the 1 SEARCH block(s)" in third
    assert all("similar fitness but different features are valuable" in m for m in (first, second, third))
    assert "LAST-ADVICE-9931" in first  # the parent's critique, kept whole past 300 words

    for request, it in zip(reflections, (0, 1, 3)):
        prompt = request["messages"][1]["content"]
        tasks = run.evaluator.minibatch(it).task_ids
        assert prompt.count("Scenario:") == len(tasks) == 2
        for t in tasks:
            reason = " ".join(task_context(run.evaluator._tasks[t], "retail")["reason_for_call"].split())
            assert " ".join(reason.split()[:6]) in " ".join(prompt.split()), (t, reason[:80])
        blocks = prompt.split("Scenario:\n")[1:]
        assert all(len(b.split("\nHL ")[0]) <= TASK_TEXT_CHARS for b in blocks)
    assert records[1].artifacts["evaluator_reflection"].endswith("LAST-ADVICE-9931")


def test_a_task_whose_generation_fails_is_left_out_and_recorded(setup, tmp_path):
    """The authors' rule (generation_failure="skip_task", every profile): the candidate is scored on the
    minibatch's other tasks and the failure is recorded; the earlier rule zeroes the whole candidate."""
    ev = _evaluator(setup, tmp_path / "skip")
    mb = ev.minibatch(0)
    bad_task = mb.task_ids[-1]
    marker = " ".join(ev._tasks[bad_task].user_scenario.instructions.known_info.split())
    assert not any(marker in " ".join(ev._tasks[t].user_scenario.instructions.known_info.split())
                   for t in mb.task_ids if t != bad_task)
    program = SEED.replace(
        "def generate_personas(context, axes, n, llm):\n",
        "def generate_personas(context, axes, n, llm):\n"
        f"    if {marker!r} in ' '.join(str(context.get('known_info')).split()):\n"
        "        raise ValueError('cannot write personas for this one')\n")
    result = ev.evaluate(program, 0, "p00001-partial")
    assert result.error is None, result.error
    m = result.metrics
    assert (m["n_tasks"], m["generation_failures"], m["n_episodes"]) == (4, 1, 20)
    assert m["score"] == pytest.approx(m["lambda_h"] * m["hl"] + m["lambda_b"] * m["coverage"]) and m["score"] > 0
    (failure,) = result.artifacts["generation_failures"]
    assert failure["task_id"] == bad_task and "cannot write personas" in failure["error"]
    assert bad_task not in {row["task_id"] for row in result.artifacts["per_task"]}
    assert {e["task_id"] for e in result.artifacts["per_episode"]} == set(mb.task_ids) - {bad_task}

    strict = _evaluator(setup, tmp_path / "strict", generation_failure="fail_candidate").evaluate(
        program, 0, "p00001-partial")
    assert strict.error and "cannot write personas" in strict.error and strict.metrics["score"] == 0.0
    # Every task failing still fails the candidate under the authors' rule.
    broken = _evaluator(setup, tmp_path / "all").evaluate("def generate_personas(:\n", 0, "p00002-bad")
    assert broken.error and broken.metrics["score"] == 0.0
