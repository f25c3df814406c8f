"""SFT datasets for the agent-training comparison of Persona Policies (arXiv:2605.12894, §5.5, App. B/F).

:func:`build_sft` reads episode files (``episodes.jsonl`` written by
:func:`ppol_nb.simulation.runner.run_episodes`, or their run directories) and
writes the paper's two regimes:

* ``default`` — trajectories with the base τ² user simulator (condition ``base``);
* ``default_ppol`` — those plus trajectories with PPol personas (conditions
  ``seed`` and ``program``: personas written by a generator program), at most
  :data:`PERSONAS_PER_TASK` (10) personas per train task.

Selection (the paper's recipe): an episode is kept when it ran on a task of τ²'s
official **train** split, finished without error and scored **reward ≥ 1**.
Episodes of the τ-trait suites (``trait:*``) are never used: they are the
out-of-distribution test users. ``dp`` (direct LLM personas) is not PPol and is
left out unless ``ppol_conditions`` names it. A repeated episode id keeps its last
record (the store's rule).

**Equal size rule.** Both regimes get the same number of conversations,
``n = min(|default pool|, |default + PPol pool|, max_examples)``: each regime is a
seeded random sample of ``n`` from its own pool (the mix is drawn uniformly from
its pool, so its default/PPol ratio is that of the pool, unless ``ppol_share``
fixes ``round(ppol_share × n)`` of them to be PPol; the ratio is recorded). Since
the mixed pool contains the default one, ``n`` is normally the size of the default
pool: the mixed regime trades default conversations for PPol ones at equal size,
so the same optimiser steps see as many examples in both (equal compute).

Each regime is shuffled with ``seed`` (the paper's builder uses 1) and its first
``round(val_fraction × n)`` conversations (at least one) are held out for
validation, the rest train. Conversations are cleaned by
:func:`.chat_formats.agent_conversation` (parallel calls split, thinking and the
trailing ``done`` dropped, ending on the agent) and carry the agent's τ² system
prompt (τ²'s own ``LLMAgent`` prompt with the domain policy) and the domain's
tool schemas.

Files written under ``out``::

    manifest.json           config, seed, rule, sources (sha256), counts, sizes, tokens, versions
    dataset_info.json       LLaMA-Factory entries ppol_<regime>_<split>
    <regime>/openai_{train,validation}.jsonl     OpenAI fine-tuning chat lines
    <regime>/sharegpt_{train,validation}.json    LLaMA-Factory ShareGPT records
    <regime>/rows_{train,validation}.jsonl       per line: episode id, task, condition, persona, source

Every exported line is validated (:mod:`.chat_formats`) before anything is
written; a build that fails writes nothing.

**Licence.** TAU-USI (CC-BY-NC-4.0) forbids training or fine-tuning LLMs on it.
:func:`check_trainable_input` refuses, with :class:`~ppol_nb.humans.LicenceError`:
a TAU-USI file or a human-corpus JSONL with TAU-USI lines given as input; episodes
whose persona says it came from TAU-USI; and episode files whose run records — the
``run_identity.json`` / ``run_manifest.json`` / ``manifest.json`` / ``fitness.json``
of their directory and its parents (and ``fitness/*/fitness.json`` there), and of
the generator program, run or fitness model those name — give TAU-USI (or a corpus
file whose licence cannot be checked) as ``corpus`` or ``human_corpus``, i.e. the
human data of the fitness model that selected the personas. Such a file is
refused whole, its base episodes included: the records cannot tell which episodes
the corpus shaped. Where no corpus is recorded nothing can be refused; the
manifest lists the recorded corpora per source (or "none recorded").

Token counts are ``tiktoken``'s ``o200k_base`` over message texts, tool-call JSON
and tool schemas (the model's chat template adds its own tokens); when no
tiktoken encoding can be loaded offline, ``ceil(characters / 4)``, and the
manifest names which.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from .. import __version__
from ..humans.licences import SOURCES, LicenceError
from ..provenance import provenance
from ..run_identity import file_digest
from ..simulation.records import EpisodeRecord
from ..simulation.store import EpisodeFileError, read_episodes
from .chat_formats import (
    SHAREGPT_COLUMNS,
    SHAREGPT_TAGS,
    STOP_TOOLS,
    agent_conversation,
    is_trainable,
    to_openai,
    to_sharegpt,
    validate_openai_line,
    validate_sharegpt_record,
)

REGIMES = ("default", "default_ppol")
DEFAULT_CONDITIONS = ("base",)
PPOL_CONDITIONS = ("seed", "program")
PERSONAS_PER_TASK = 10
VAL_FRACTION = 0.1
SEED = 1  # the paper's builder shuffles with seed 1
MIN_REWARD = 1.0
SPLITS = ("train", "validation")
EQUAL_SIZE_RULE = ("both regimes are seeded random samples of n = min(|default pool|, |default+PPol pool|"
                   "[, max_examples]) conversations from their own pools; the mix keeps its pool's ratio unless "
                   "ppol_share fixes round(ppol_share x n) PPol conversations")
_TAU_USI = "tau-usi"
_RUN_RECORDS = ("run_identity.json", "run_manifest.json", "manifest.json", "fitness.json")
_CORPUS_KEYS = ("corpus", "human_corpus")  # a run's corpus argument; a fitness model's own record of its humans
_LINKED_KEYS = ("program", "run", "run_dir", "fitness", "fitness_dir")  # paths in run records that lead to more


class SFTDataError(ValueError):
    """Episode input that cannot make the datasets (nothing usable, too few examples, not episodes)."""


@dataclass(frozen=True)
class SFTConfig:
    seed: int = SEED
    val_fraction: float = VAL_FRACTION
    personas_per_task: int = PERSONAS_PER_TASK
    min_reward: float = MIN_REWARD
    default_conditions: tuple[str, ...] = DEFAULT_CONDITIONS
    ppol_conditions: tuple[str, ...] = PPOL_CONDITIONS
    max_examples: int | None = None
    ppol_share: float | None = None  # None: the mix keeps its pool's ratio; else this share of it is PPol
    stop_tools: tuple[str, ...] = STOP_TOOLS

    def __post_init__(self):
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction!r}")
        if self.personas_per_task < 1:
            raise ValueError(f"personas_per_task must be >= 1, got {self.personas_per_task!r}")
        if self.max_examples is not None and self.max_examples < 2:
            raise ValueError(f"max_examples must be >= 2 (one to train, one to validate), got {self.max_examples!r}")
        trait = [c for c in (*self.default_conditions, *self.ppol_conditions) if c.startswith("trait:")]
        if trait:
            raise ValueError(f"{trait}: the τ-trait suites are the out-of-distribution test users, never training data")
        if self.ppol_share is not None and not 0 < self.ppol_share <= 1:
            raise ValueError(f"ppol_share must be in (0, 1], got {self.ppol_share!r}")
        both = set(self.default_conditions) & set(self.ppol_conditions)
        if both:
            raise ValueError(f"conditions {sorted(both)} cannot be both default and PPol")


@dataclass
class Example:
    record: EpisodeRecord
    source: str
    openai: dict
    sharegpt: dict
    forced: dict
    stats: dict
    kind: str  # "default" or "ppol"

    def row(self, regime: str, split: str, line: int) -> dict:
        r = self.record
        return {"regime": regime, "split": split, "line": line, "episode_id": r.episode_id, "domain": r.domain,
                "task_id": r.task_id, "condition": r.condition, "kind": self.kind,
                "persona_id": r.persona.persona_id if r.persona else None, "seed": r.seed, "reward": r.reward,
                "user_model": r.user_model, "agent_model": r.agent_model, "source": self.source}


@dataclass
class SFTBuild:
    out: Path
    manifest: dict
    files: dict = field(default_factory=dict)  # (regime, split, format) -> Path

    def sizes(self) -> dict:
        return self.manifest["sizes"]


# --------------------------------------------------------------------------------------- licence guard


def _is_tau_usi_name(value: str) -> bool:
    key = value.strip().lower().replace("_", "-")
    return key in (_TAU_USI, "tauusi") or "tau-usi" in key or "tau-bench-tasks-unified" in key


def _corpus_refusal(value, base: Path) -> str | None:
    """Why the fitness corpus ``value`` (a name or a path) makes its personas untrainable, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = json.dumps(value, default=str)
    if _is_tau_usi_name(value):
        return f"corpus {value!r} is TAU-USI"
    if value.strip().lower() in SOURCES:
        return None
    candidates = [Path(value).expanduser()]
    if not candidates[0].is_absolute():
        candidates.append(base / value)
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return (f"corpus {value!r} is neither a known corpus nor a readable file, so its licence cannot be "
                "checked")
    problem = _human_file_refusal(path)
    if problem:
        return problem
    if path.suffix != ".jsonl":
        return f"corpus file {path} is not a JSONL corpus whose per-line licence can be checked"
    return None


def _human_file_refusal(path: Path) -> str | None:
    """Why ``path`` is (part of) TAU-USI, reading at most its JSON lines' ``source``/``licence``."""
    if _is_tau_usi_name(path.name):
        return f"{path} is the TAU-USI data file"
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, start=1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    return None  # not a JSONL corpus (a .json file is read as a whole below)
                if isinstance(obj, dict) and "turns" in obj and (
                        _is_tau_usi_name(str(obj.get("source", ""))) or
                        str(obj.get("licence", "")).upper() == SOURCES[_TAU_USI].licence):
                    return f"{path}:{number} is a TAU-USI dialogue ({SOURCES[_TAU_USI].licence})"
    except OSError as exc:
        return f"{path} cannot be read to check its licence: {exc}"
    return None


def _run_record_paths(start: Path) -> list[Path]:
    """Run records of ``start``'s directory and its parents (nearest first)."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    found = []
    for d in (folder, *folder.parents):
        found.extend(p for p in (d / n for n in _RUN_RECORDS) if p.is_file())
        if (d / "fitness").is_dir():  # an evolution run keeps its frozen fitness model(s) in fitness/<domain>/
            found.extend(sorted((d / "fitness").glob("*/fitness.json")))
    return found


def _walk(obj, key_path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, (*key_path, str(k)))
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v, key_path)
    else:
        yield key_path, obj


def recorded_corpora(path, _seen=None) -> list[tuple[str, object]]:
    """``(record file, corpus)`` for every fitness corpus the run records of ``path`` name (following links)."""
    seen = _seen if _seen is not None else set()
    out = []
    for record in _run_record_paths(Path(path)):
        if record in seen:
            continue
        seen.add(record)
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # not a run record of ours; the episodes themselves are checked regardless
        for key_path, value in _walk(data):
            if not key_path:
                continue
            if key_path[-1] in _CORPUS_KEYS and value is not None:
                out.append((str(record), value))
            elif key_path[-1] in _LINKED_KEYS and isinstance(value, str) and value:
                linked = Path(value).expanduser()
                linked = linked if linked.is_absolute() else record.parent / linked
                if linked.exists():
                    out.extend(recorded_corpora(linked, seen))
    return out


def check_trainable_input(path, records: list[EpisodeRecord] | None = None) -> dict:
    """Refuse TAU-USI-derived input (module docstring); returns what was checked, for the manifest."""
    path = Path(path)
    problems = []
    if path.is_file():
        problem = _human_file_refusal(path)
        if problem:
            problems.append(problem)
    corpora = recorded_corpora(path)
    for where, corpus in corpora:
        problem = _corpus_refusal(corpus, Path(where).parent)
        if problem:
            problems.append(f"{problem} (recorded in {where})")
    for r in records or ():
        if r.persona is not None and _is_tau_usi_name(r.persona.source):
            problems.append(f"episode {r.episode_id}: persona {r.persona.persona_id} comes from {r.persona.source!r}")
            break
    if problems:
        terms = SOURCES[_TAU_USI]
        raise LicenceError(f"SFT export refused for {path}: " + "; ".join(dict.fromkeys(problems)) +
                           f". TAU-USI is {terms.licence}, research use only, and its terms forbid training or "
                           "fine-tuning LLMs on it or on data derived from it (personas selected by a fitness "
                           "model trained on it included); use episodes from runs with another corpus.")
    return {"path": str(path), "recorded_corpora": sorted({json.dumps(c, default=str) for _, c in corpora})
            or "none recorded"}


# --------------------------------------------------------------------------------------------- reading


def _episode_file(path: Path) -> Path:
    if path.is_dir():
        path = path / "episodes.jsonl"
    if not path.is_file():
        raise SFTDataError(f"{path}: no such episode file (give an episodes.jsonl or the run directory holding one)")
    return path


def read_sources(paths) -> tuple[list[tuple[EpisodeRecord, str]], list[dict]]:
    """Records of every source (licence-checked first), and a description of each source."""
    records: list[tuple[EpisodeRecord, str]] = []
    sources = []
    for given in paths:
        given = Path(given)
        if given.is_file():  # a human corpus handed in by mistake is refused before it is parsed as episodes
            check_trainable_input(given)
        path = _episode_file(given)
        try:
            recs, report = read_episodes(path)
        except EpisodeFileError as exc:
            raise SFTDataError(f"{exc} (is {path} an episode file written by ppol_nb?)") from None
        except UnicodeDecodeError as exc:
            raise SFTDataError(f"{path}: not a text episode file ({exc.reason})") from None
        checked = check_trainable_input(path, recs)
        records.extend((r, str(path)) for r in recs)
        sources.append({**checked, "sha256": file_digest(path), "records": len(recs),
                        "skipped_lines": len(report.skipped)})
    return records, sources


# ------------------------------------------------------------------------------------------- selection


@cache
def agent_setup(domain: str) -> tuple[str, tuple[str, ...]]:
    """The τ² agent's system prompt for ``domain`` and its tools' OpenAI schemas (as JSON strings)."""
    from ..simulation.environments import make_environment
    from ..simulation.tau2_bridge import tau2_modules

    tau2_modules()  # quiet tau2 import
    from tau2.agent.llm_agent import AGENT_INSTRUCTION, SYSTEM_PROMPT

    env = make_environment(domain)
    system = SYSTEM_PROMPT.format(domain_policy=env.get_policy(), agent_instruction=AGENT_INSTRUCTION)  # as LLMAgent.system_prompt
    # In the order and shape τ²'s agent sends them (the schema the fine-tuned model will be served).
    tools = tuple(json.dumps(t.openai_schema) for t in env.get_tools())
    return system, tools


def select(records, config: SFTConfig) -> tuple[dict[str, list], Counter]:
    """Kept records per kind (``default``/``ppol``) and why the others were left out."""
    latest: dict[str, tuple[EpisodeRecord, str]] = {}
    why = Counter()
    for rec, src in records:
        if rec.episode_id in latest:
            why["repeated episode id (last record kept)"] += 1
        latest[rec.episode_id] = (rec, src)
    pools: dict[str, list] = {"default": [], "ppol": []}
    for rec, src in latest.values():
        if rec.condition.startswith("trait:"):
            why["τ-trait suite (out-of-distribution test users)"] += 1
            continue
        if rec.condition in config.default_conditions:
            kind = "default"
        elif rec.condition in config.ppol_conditions:
            kind = "ppol"
        else:
            why[f"condition {rec.condition!r} is in neither regime"] += 1
            continue
        if rec.split != "train":
            why[f"split {rec.split!r}, not train"] += 1
        elif rec.error is not None:
            why["errored"] += 1
        elif rec.reward is None or rec.reward < config.min_reward:
            why[f"reward < {config.min_reward:g}"] += 1
        elif kind == "ppol" and rec.persona is None:
            why["PPol condition without a persona"] += 1
        else:
            pools[kind].append((rec, src))
    # At most personas_per_task personas per train task (seeded, from the sorted ids: reproducible).
    rng = random.Random(config.seed)
    by_task: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for rec, src in pools["ppol"]:
        by_task[(rec.domain, rec.task_id)][rec.persona.persona_id].append((rec, src))
    capped = []
    for key in sorted(by_task):
        ids = sorted(by_task[key])
        keep = ids if len(ids) <= config.personas_per_task else sorted(rng.sample(ids, config.personas_per_task))
        for pid in ids:
            if pid in keep:
                capped.extend(by_task[key][pid])
            else:
                why[f"over {config.personas_per_task} personas for its task"] += len(by_task[key][pid])
    pools["ppol"] = capped
    for kind in pools:  # a fixed order, whatever the files' order
        pools[kind].sort(key=lambda item: item[0].episode_id)
    return pools, why


def _example(rec: EpisodeRecord, src: str, config: SFTConfig, kind: str) -> Example | str:
    conv = agent_conversation(rec.messages, stop_tools=config.stop_tools)
    problem = is_trainable(conv)
    if problem:
        return problem
    system, tools = agent_setup(rec.domain)
    tools = [json.loads(t) for t in tools]
    openai_line = to_openai(conv, system, tools)
    sharegpt, forced = to_sharegpt(conv, system, tools)
    validate_openai_line(openai_line)
    validate_sharegpt_record(sharegpt)
    return Example(rec, src, openai_line, sharegpt, forced, conv.stats, kind)


# ---------------------------------------------------------------------------------------------- tokens


def token_counter():
    """``(count(text) -> int, description)``: tiktoken o200k_base when loadable offline, else characters / 4."""
    try:
        import tiktoken
    except ImportError:
        tiktoken = None
    if tiktoken is not None:
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        bundled = _bundled_tiktoken_cache()
        try:
            if previous is None and bundled is not None:
                # litellm ships the encoding files; with them no download is attempted.
                os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)
            enc = tiktoken.get_encoding("o200k_base")
            version = getattr(tiktoken, "__version__", "")
            return (lambda text: len(enc.encode(text, disallowed_special=()))), f"tiktoken {version} o200k_base"
        except Exception:  # noqa: BLE001 — no encoding offline: the stated approximation below
            pass
        finally:
            if previous is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
    return (lambda text: math.ceil(len(text) / 4)), "approximation: ceil(characters / 4) (no tiktoken encoding)"


def _bundled_tiktoken_cache() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    return folder if folder.is_dir() else None


def count_tokens(line: dict, count) -> tuple[int, int]:
    """(all tokens, tokens of the trained assistant messages) of one OpenAI line."""
    total = trained = 0
    for m in line["messages"]:
        text = (m.get("content") or "") + "".join(
            c["function"]["name"] + c["function"]["arguments"] for c in m.get("tool_calls", []))
        n = count(text)
        total += n
        if m["role"] == "assistant" and m.get("weight", 1) == 1:
            trained += n
    total += count(json.dumps(line.get("tools", []), ensure_ascii=False))
    return total, trained


# ---------------------------------------------------------------------------------------------- build


def split_sizes(n: int, val_fraction: float) -> tuple[int, int]:
    """(train, validation) sizes: round(val_fraction × n) held out, at least one, at least one left to train."""
    if n < 2:
        raise SFTDataError(f"{n} usable conversation(s): at least 2 are needed (one to train, one to validate)")
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    return n - n_val, n_val


def build_sft(sources, out, config: SFTConfig | None = None) -> SFTBuild:
    """Build both regimes from episode files or run directories ``sources`` into ``out`` (module docstring)."""
    config = config or SFTConfig()
    out = Path(out)
    sources = [sources] if isinstance(sources, (str, Path)) else list(sources)
    if not sources:
        raise SFTDataError("no episode sources given")
    records, source_info = read_sources(sources)
    pools, left_out = select(records, config)
    examples: dict[str, list[Example]] = {}
    for kind, pool in pools.items():
        examples[kind] = []
        for rec, src in pool:
            ex = _example(rec, src, config, kind)
            if isinstance(ex, str):
                left_out[f"cleaned conversation unusable: {ex}"] += 1
            else:
                examples[kind].append(ex)
    if not examples["default"]:
        raise SFTDataError(f"no successful train-split default episodes (conditions {list(config.default_conditions)}) "
                           f"in {[str(s) for s in sources]}; left out: {dict(left_out)}")
    if not examples["ppol"]:
        raise SFTDataError(f"no successful train-split PPol episodes (conditions {list(config.ppol_conditions)}) in "
                           f"{[str(s) for s in sources]}: the mixed regime would equal the default one; left out: "
                           f"{dict(left_out)}")
    regime_pools = {"default": examples["default"], "default_ppol": examples["default"] + examples["ppol"]}
    n = min(len(p) for p in regime_pools.values())
    if config.max_examples is not None:
        n = min(n, config.max_examples)
    _, n_val = split_sizes(n, config.val_fraction)
    count, tokenizer = token_counter()
    files: dict = {}
    payload: dict[Path, str] = {}
    sizes, tokens, mix, forced_totals, cleaning = {}, {}, {}, {}, {}
    dataset_info = {}
    for regime in REGIMES:
        # One generator per regime, seeded alike: each regime's draw does not depend on the other's.
        rng = random.Random(config.seed)
        if regime == "default_ppol" and config.ppol_share is not None:
            k = round(config.ppol_share * n)
            if k > len(examples["ppol"]) or n - k > len(examples["default"]):
                raise SFTDataError(f"ppol_share {config.ppol_share} of {n} needs {k} PPol and {n - k} default "
                                   f"conversations; the pools have {len(examples['ppol'])} and "
                                   f"{len(examples['default'])}")
            chosen = rng.sample(examples["ppol"], k) + rng.sample(examples["default"], n - k)
            rng.shuffle(chosen)
        else:
            chosen = rng.sample(regime_pools[regime], n)  # a shuffled sample
        parts = {"validation": chosen[:n_val], "train": chosen[n_val:]}
        sizes[regime], tokens[regime] = {}, {}
        mix[regime] = dict(Counter(ex.kind for ex in chosen))
        forced_totals[regime] = {k: sum(ex.forced[k] for ex in chosen) for k in chosen[0].forced}
        cleaning[regime] = {k: sum(ex.stats[k] for ex in chosen) for k in chosen[0].stats}
        for split in SPLITS:
            rows = parts[split]
            folder = out / regime
            paths = {"openai": folder / f"openai_{split}.jsonl", "sharegpt": folder / f"sharegpt_{split}.json",
                     "rows": folder / f"rows_{split}.jsonl"}
            payload[paths["openai"]] = "".join(json.dumps(ex.openai, ensure_ascii=False) + "\n" for ex in rows)
            payload[paths["sharegpt"]] = json.dumps([ex.sharegpt for ex in rows], ensure_ascii=False, indent=1) + "\n"
            payload[paths["rows"]] = "".join(json.dumps(ex.row(regime, split, i + 1), ensure_ascii=False) + "\n"
                                             for i, ex in enumerate(rows))
            files.update({(regime, split, fmt): p for fmt, p in paths.items()})
            counts = [count_tokens(ex.openai, count) for ex in rows]
            sizes[regime][split] = len(rows)
            tokens[regime][split] = {"total": sum(c[0] for c in counts), "trained": sum(c[1] for c in counts),
                                     "mean_per_conversation": round(sum(c[0] for c in counts) / len(rows), 1),
                                     "max_per_conversation": max(c[0] for c in counts)}
            dataset_info[f"ppol_{regime}_{split}"] = {
                "file_name": f"{regime}/sharegpt_{split}.json", "formatting": "sharegpt",
                "columns": dict(SHAREGPT_COLUMNS), "tags": dict(SHAREGPT_TAGS)}
    manifest = provenance({
        "command": "sft build", "ppol_nb_version": __version__, "config": asdict(config), "seed": config.seed,
        "paper": "Persona Policies (arXiv:2605.12894) §5.5, App. B/F: LoRA SFT on successful train trajectories",
        "equal_size_rule": EQUAL_SIZE_RULE, "n_per_regime": n,
        "validation_rule": f"shuffled with seed {config.seed}; the first round({config.val_fraction} x n) "
                           "(at least 1) are validation",
        "sources": source_info, "records_read": len(records),
        "pools": {k: len(v) for k, v in examples.items()}, "left_out": dict(left_out),
        "sizes": sizes, "mix": mix, "tokens": tokens, "tokenizer": tokenizer,
        "cleaning": cleaning, "sharegpt_layout_changes": forced_totals,
        "licence_check": "TAU-USI-derived input refused (ppol_nb.training.sft_data.check_trainable_input)",
        "files": {f"{r}/{s}/{f}": str(p.relative_to(out)) for (r, s, f), p in files.items()},
        "formats": {"openai": "OpenAI fine-tuning chat JSONL: messages, tools, parallel_tool_calls=false; "
                              "the greeting τ² writes for the agent has weight 0",
                    "sharegpt": "LLaMA-Factory ShareGPT (dataset_info.json entries ppol_<regime>_<split>)"},
    })
    out.mkdir(parents=True, exist_ok=True)
    for regime in REGIMES:
        (out / regime).mkdir(exist_ok=True)
    for path, text in payload.items():
        path.write_text(text, encoding="utf-8")
    (out / "dataset_info.json").write_text(json.dumps(dataset_info, indent=2) + "\n", encoding="utf-8")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return SFTBuild(out, manifest, files)
