"""The paper's LoRA SFT recipe (arXiv:2605.12894, §5.5, App. B/F) on TRL + PEFT, for the exported OpenAI chat JSONL.

Needs the optional extra ``train`` (``pip install 'ppol_nb[train]'``: torch,
transformers, trl, peft, accelerate, datasets); without it :func:`train_lora`
raises :class:`TrainExtraMissing` saying so. Nothing else in ppol_nb imports this.

:class:`LoraRecipe` holds the paper's settings: LoRA rank 32, α 64, dropout 0.05
on all linear layers; learning rate 2e-4, cosine schedule, 10 % warm-up;
per-device batch 1 × gradient accumulation 8; 48 optimiser steps, evaluated every
8, the checkpoint with the lowest validation loss kept (the paper's App. B says
32 steps, App. F and its configs 48: 48 here); cut-off 16384 tokens. bf16 and
gradient checkpointing are switched on only when a CUDA GPU is present (and bf16
only when it supports bf16); on CPU the run is float32 and plain.

Loss is on the agent's messages only (LLaMA-Factory's default, which the paper
used): each conversation is rendered with the tokenizer's own chat template (tool
schemas passed as ``tools``, tool-call arguments as objects, the Hugging Face
convention), and the tokens of each trained assistant message — the span its
rendering adds after the generation prompt — are the labels; everything else
(system prompt, user, tool results, and the greeting exported with ``weight: 0``)
is -100. A template that re-renders earlier messages differently when a later
one is added cannot be masked this way and is refused with a clear error.

Guarantees: the best adapter (lowest validation loss) is written to
``OUT/adapter`` (PEFT format: ``PeftModel.from_pretrained(base, OUT/adapter)``,
or vLLM ``--enable-lora``), with the tokenizer, and ``OUT/training_manifest.json``
records the recipe, the data files' sha256, the device, the log history and the
best step. See docs/training.md for serving and evaluating the adapter.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..provenance import provenance
from ..run_identity import file_digest
from .chat_formats import read_openai_jsonl

TRAIN_PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets")


class TrainExtraMissing(ImportError):
    """The optional ``train`` extra is not installed."""


@dataclass(frozen=True)
class LoraRecipe:
    rank: int = 32
    alpha: int = 64
    dropout: float = 0.05
    target_modules: str = "all-linear"
    learning_rate: float = 2e-4
    scheduler: str = "cosine"
    warmup_ratio: float = 0.1
    batch_size: int = 1
    grad_accum: int = 8
    max_steps: int = 48
    eval_steps: int = 8
    max_length: int = 16384
    seed: int = 1

    def __post_init__(self):
        for name in ("rank", "alpha", "batch_size", "grad_accum", "max_steps", "eval_steps", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"LoraRecipe.{name} must be >= 1, got {getattr(self, name)!r}")
        if not 0 <= self.dropout < 1 or not 0 <= self.warmup_ratio < 1 or not self.learning_rate > 0:
            raise ValueError("LoraRecipe: dropout and warmup_ratio must be in [0, 1), learning_rate > 0")


def _require_extra():
    import importlib.util

    missing = [p for p in TRAIN_PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        raise TrainExtraMissing(f"LoRA training needs the 'train' extra; missing {missing}: "
                                "pip install 'ppol_nb[train]' (a GPU build of torch for real runs)")


def _hf_messages(messages: list[dict]) -> list[dict]:
    """OpenAI messages as chat templates expect them: tool-call arguments as objects, no ``weight``."""
    out = []
    for m in messages:
        m = {k: v for k, v in m.items() if k != "weight"}
        if m.get("tool_calls"):
            m["tool_calls"] = [{**c, "function": {**c["function"], "arguments": json.loads(c["function"]["arguments"])}}
                               for c in m["tool_calls"]]
        out.append(m)
    return out


def tokenize_conversation(line: dict, tokenizer, max_length: int) -> dict:
    """``input_ids`` and ``labels`` (agent tokens only) of one exported line (module docstring)."""
    messages, tools = _hf_messages(line["messages"]), line.get("tools")
    weights = [m.get("weight", 1) if m["role"] == "assistant" else 0 for m in line["messages"]]

    def render(upto: int, generation_prompt: bool) -> str:
        return tokenizer.apply_chat_template(messages[:upto], tools=tools, tokenize=False,
                                             add_generation_prompt=generation_prompt)

    full = render(len(messages), False)
    spans = []
    for k, trained in enumerate(weights):
        if not trained:
            continue
        start, end = render(k, True), render(k + 1, False)
        if not (end.startswith(start) and full.startswith(end)):
            raise ValueError("the tokenizer's chat template does not render conversations prefix by prefix, so the "
                             "agent's tokens cannot be located; use a model whose template does, or train with "
                             "LLaMA-Factory on the ShareGPT export")
        spans.append((len(start), len(end)))
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True, truncation=True,
                    max_length=max_length)
    labels = [tid if any(s <= a and b <= e and b > a for s, e in spans) else -100
              for tid, (a, b) in zip(enc["input_ids"], enc["offset_mapping"])]
    return {"input_ids": enc["input_ids"], "labels": labels}


def _dataset(path, tokenizer, max_length: int):
    from datasets import Dataset

    rows = [tokenize_conversation(line, tokenizer, max_length) for line in read_openai_jsonl(path)]
    rows = [r for r in rows if any(t != -100 for t in r["labels"])]  # truncated past every agent token
    if not rows:
        raise ValueError(f"{path}: no conversation keeps an agent token within max_length={max_length}")
    return Dataset.from_list(rows)


def _config_kwargs(config_cls, recipe: LoraRecipe, gpu: bool, bf16: bool, out: Path) -> dict:
    names = {f.name for f in fields(config_cls)}
    kwargs = dict(
        output_dir=str(out / "checkpoints"), max_steps=recipe.max_steps,
        per_device_train_batch_size=recipe.batch_size, per_device_eval_batch_size=recipe.batch_size,
        gradient_accumulation_steps=recipe.grad_accum, learning_rate=recipe.learning_rate,
        lr_scheduler_type=recipe.scheduler, eval_strategy="steps", eval_steps=recipe.eval_steps,
        save_strategy="steps", save_steps=recipe.eval_steps, load_best_model_at_end=True,
        metric_for_best_model="eval_loss", greater_is_better=False, logging_steps=1, report_to="none",
        bf16=bf16, max_length=recipe.max_length, seed=recipe.seed, data_seed=recipe.seed,
        save_only_model=True,
    )
    # transformers 5 folded warmup_ratio into warmup_steps (a float < 1 is a ratio) and renamed checkpointing.
    if "warmup_ratio" in names:
        kwargs["warmup_ratio"] = recipe.warmup_ratio
    else:
        kwargs["warmup_steps"] = recipe.warmup_ratio
    kwargs["activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"] = gpu
    if not gpu and "use_cpu" in names:
        kwargs["use_cpu"] = True
    return {k: v for k, v in kwargs.items() if k in names}


def train_lora(model, train_file, validation_file, out, recipe: LoraRecipe | None = None, tokenizer=None) -> dict:
    """Train a LoRA adapter on ``model`` (a local directory, a hub id, or a loaded causal LM) with the recipe.

    Returns ``{"adapter_dir", "best_eval_loss", "best_step", "log_history", "device", "model"}``
    (``model``: the trained PEFT model, best checkpoint loaded) and writes the adapter and
    ``training_manifest.json`` under ``out``.
    """
    _require_extra()
    read_openai_jsonl(train_file), read_openai_jsonl(validation_file)  # bad data fails before any model loads
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    recipe = recipe or LoraRecipe()
    out = Path(out)
    gpu = torch.cuda.is_available()
    bf16 = gpu and torch.cuda.is_bf16_supported()
    if tokenizer is None:
        if not isinstance(model, (str, Path)):
            raise ValueError("a loaded model needs its tokenizer passed as tokenizer=")
        tokenizer = AutoTokenizer.from_pretrained(str(model))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    train_ds = _dataset(train_file, tokenizer, recipe.max_length)
    eval_ds = _dataset(validation_file, tokenizer, recipe.max_length)
    if isinstance(model, (str, Path)):
        model = AutoModelForCausalLM.from_pretrained(str(model), dtype=torch.bfloat16 if bf16 else torch.float32)
    lora = LoraConfig(r=recipe.rank, lora_alpha=recipe.alpha, lora_dropout=recipe.dropout,
                      target_modules=recipe.target_modules, task_type="CAUSAL_LM")
    config = SFTConfig(**_config_kwargs(SFTConfig, recipe, gpu, bf16, out))
    trainer = SFTTrainer(model=model, args=config, train_dataset=train_ds, eval_dataset=eval_ds,
                         processing_class=tokenizer, peft_config=lora)
    trainer.train()
    adapter_dir = out / "adapter"
    trainer.save_model(str(adapter_dir))  # the best checkpoint, reloaded at the end of training
    tokenizer.save_pretrained(str(adapter_dir))
    state = trainer.state
    best_step = None
    if state.best_model_checkpoint:
        best_step = int(Path(state.best_model_checkpoint).name.rsplit("-", 1)[-1])
    result = {"adapter_dir": str(adapter_dir), "best_eval_loss": state.best_metric, "best_step": best_step,
              "log_history": state.log_history, "device": "cuda" if gpu else "cpu"}
    from importlib import metadata

    manifest = provenance({
        "command": "sft train", "recipe": asdict(recipe), "bf16": bf16, "gradient_checkpointing": gpu,
        "paper": "Persona Policies (arXiv:2605.12894) §5.5, App. B/F (App. B says 32 steps; App. F and configs 48)",
        "data": {"train": {"path": str(train_file), "sha256": file_digest(train_file), "conversations": len(train_ds)},
                 "validation": {"path": str(validation_file), "sha256": file_digest(validation_file),
                                "conversations": len(eval_ds)}},
        "base_model": getattr(getattr(model, "config", None), "_name_or_path", None) or type(model).__name__,
        "train_packages": {p: metadata.version(p) for p in TRAIN_PACKAGES}, **result,
    })
    out.mkdir(parents=True, exist_ok=True)
    (out / "training_manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return {**result, "model": trainer.model}
