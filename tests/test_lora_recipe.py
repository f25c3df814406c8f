"""The LoRA recipe on CPU: a tiny randomly initialised Llama (built from a config) and a tokenizer trained here.

Nothing is downloaded. The tokenizer is a byte-level BPE trained with the ``tokenizers``
library on the exported text, with a minimal chat template that renders tools and
tool calls. The model trains a few steps on an exported ``openai_train.jsonl``; the
loss must be finite, the adapter must change the model's outputs, and the saved
adapter, reloaded with ``PeftModel.from_pretrained``, must give the trained model's
outputs.

Needs the optional ``train`` extra; without it the test is skipped with that reason,
except under CI (``CI=true``), which installs the extra, where it fails.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os

import pytest

from ppol_nb.backends import make_backend
from ppol_nb.personas.conditions import condition_specs
from ppol_nb.offline.generator import OfflineGeneratorWorld
from ppol_nb.simulation.runner import run_episodes
from ppol_nb.training import build_sft
from ppol_nb.training.lora import TRAIN_PACKAGES, LoraRecipe, tokenize_conversation, train_lora

MISSING = [p for p in TRAIN_PACKAGES if importlib.util.find_spec(p) is None]
if MISSING and os.environ.get("CI"):
    raise RuntimeError(f"CI installs the 'train' extra, but {MISSING} are missing")
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"the 'train' extra is not installed (missing {MISSING}): "
                                                      "pip install 'ppol_nb[train]'")

CHAT_TEMPLATE = (
    "{%- if tools %}<tools>{{ tools | tojson }}</tools>{% endif %}"
    "{%- for m in messages %}<{{ m.role }}>{% if m.content %}{{ m.content }}{% endif %}"
    "{%- for c in m.tool_calls or [] %}<call>{{ c.function.name }} {{ c.function.arguments | tojson }}</call>"
    "{%- endfor %}<eos>{% endfor %}"
    "{%- if add_generation_prompt %}<assistant>{% endif %}"
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("lora")
    backend = make_backend("offline")
    runs = []
    for cond, n in (("base", 1), ("seed", 2)):
        specs, _ = condition_specs(cond, "retail", "train", n_personas=n, limit=3, world=OfflineGeneratorWorld(0),
                                   cache_dir=root / "personas")
        run_episodes(specs, backend, root / cond, progress=False)
        runs.append(root / cond)
    build = build_sft(runs, root / "sft")
    return build


def _tiny_tokenizer(texts):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<unk>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    fast.chat_template = CHAT_TEMPLATE
    fast.truncation_side = "left"  # CPU-sized sequences keep the conversation's end, where the agent speaks
    return fast


def test_lora_trains_saves_and_reloads_on_cpu(exported, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    train_file = exported.files[("default_ppol", "train", "openai")]
    val_file = exported.files[("default_ppol", "validation", "openai")]
    lines = [json.loads(x) for x in train_file.read_text().splitlines()]
    tokenizer = _tiny_tokenizer([json.dumps(line) for line in lines])
    # Labels: exactly the agent's trained messages (greeting excluded), nothing else.
    sample = tokenize_conversation(lines[0], tokenizer, max_length=100_000)
    trained_text = tokenizer.decode([t for t in sample["labels"] if t != -100])
    agent = [m for m in lines[0]["messages"] if m["role"] == "assistant" and m.get("weight", 1) == 1]
    assert all((m.get("content") or m["tool_calls"][0]["function"]["name"]) in trained_text for m in agent)
    assert lines[0]["messages"][1].get("weight") == 0 and lines[0]["messages"][1]["content"] not in trained_text
    assert lines[0]["messages"][2]["content"][:40] not in trained_text  # the user's first message

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    base_dir = tmp_path / "base"
    LlamaForCausalLM(config).save_pretrained(base_dir)
    recipe = LoraRecipe(rank=4, alpha=8, max_steps=2, eval_steps=1, grad_accum=2, max_length=512,
                        learning_rate=5e-3)
    result = train_lora(str(base_dir), train_file, val_file, tmp_path / "out", recipe=recipe, tokenizer=tokenizer)

    losses = [h["loss"] for h in result["log_history"] if "loss" in h]
    evals = [h["eval_loss"] for h in result["log_history"] if "eval_loss" in h]
    assert len(losses) == 2 and len(evals) == 2 and all(math.isfinite(x) for x in losses + evals)
    assert result["best_eval_loss"] == min(evals) and result["device"] == "cpu"
    manifest = json.loads((tmp_path / "out" / "training_manifest.json").read_text())
    assert manifest["recipe"]["rank"] == 4 and manifest["data"]["train"]["sha256"]

    ids = torch.tensor([tokenizer(lines[0]["messages"][2]["content"])["input_ids"][:64]])
    base = AutoModelForCausalLM.from_pretrained(base_dir).eval()
    with torch.no_grad():
        base_logits = base(ids).logits
    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), result["adapter_dir"]).eval()
    trained = result["model"].eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(ids).logits, trained(ids).logits, atol=1e-5)
        assert not torch.allclose(reloaded(ids).logits, base_logits, atol=1e-4)  # the adapter is not a no-op


def test_the_recipe_defaults_are_the_papers():
    r = LoraRecipe()
    assert (r.rank, r.alpha, r.dropout, r.target_modules) == (32, 64, 0.05, "all-linear")
    assert (r.learning_rate, r.scheduler, r.warmup_ratio) == (2e-4, "cosine", 0.1)
    assert (r.batch_size, r.grad_accum, r.max_steps, r.eval_steps, r.max_length) == (1, 8, 48, 8, 16384)
    with pytest.raises(ValueError):
        LoraRecipe(rank=0)
