"""``ppol-nb sft build|train``: agent-training datasets, and LoRA training with the ``train`` extra (§5.5)."""

from __future__ import annotations

from pathlib import Path

from .checks import (
    CLIError,
    positive_int,
    share,
)


def cmd_sft_build(args) -> int:
    from ..humans.licences import LicenceError
    from ..training.sft_data import SFTConfig, SFTDataError, build_sft

    out = Path(args.out)
    if (out / "manifest.json").exists() and not args.overwrite:
        raise CLIError(f"{out} already holds an SFT build; pass --overwrite to replace it, or use a new --out")
    try:
        config = SFTConfig(seed=args.seed, val_fraction=args.val_fraction, personas_per_task=args.personas_per_task,
                           max_examples=args.max_examples, ppol_share=args.ppol_share,
                           ppol_conditions=tuple(args.ppol_conditions.split(",")))
        build = build_sft(args.episodes, out, config)
    except (SFTDataError, LicenceError, ValueError, OSError) as exc:  # OSError: --out cannot be written
        raise CLIError(str(exc)) from None
    m = build.manifest
    for regime, sizes in m["sizes"].items():
        tok = m["tokens"][regime]
        print(f"{regime}: train {sizes['train']} / validation {sizes['validation']} conversations, mix {m['mix'][regime]}, "
              f"tokens train {tok['train']['total']} (assistant {tok['train']['trained']}), "
              f"validation {tok['validation']['total']}")
    print(f"tokens counted with {m['tokenizer']}; left out: {m['left_out'] or 'nothing'}")
    print(f"-> {out} (OpenAI JSONL, ShareGPT + dataset_info.json, manifest.json)")
    return 0


def cmd_sft_train(args) -> int:
    from ..training.lora import LoraRecipe, TrainExtraMissing, train_lora

    try:
        recipe = LoraRecipe(max_steps=args.max_steps, eval_steps=args.eval_steps)
        result = train_lora(args.model, args.train, args.validation, args.out, recipe=recipe)
    except (TrainExtraMissing, OSError, ValueError) as exc:  # OSError: no such model directory or hub id
        raise CLIError(str(exc)) from None
    print(f"adapter -> {result['adapter_dir']} (best validation loss {result['best_eval_loss']}, "
          f"step {result['best_step']})")
    return 0


def register(sub) -> None:
    """``sft build|train``."""
    sf = sub.add_parser("sft", help="agent-training data (default-only vs default+PPol, equal size) and LoRA training")
    sfsub = sf.add_subparsers(dest="sft_command", required=True)
    sfb = sfsub.add_parser("build", help="successful train-split episodes -> OpenAI chat JSONL + ShareGPT, both regimes")
    sfb.add_argument("episodes", nargs="+", help="episodes.jsonl files or run directories (base and PPol rollouts)")
    sfb.add_argument("--out", required=True, help="dataset directory to write")
    sfb.add_argument("--seed", type=int, default=1, help="sampling and shuffling seed (default 1, the paper's)")
    sfb.add_argument("--val-fraction", type=share, default=0.1, help="share held out for validation (default 0.1)")
    sfb.add_argument("--personas-per-task", type=positive_int, default=10, help="PPol personas kept per train task")
    sfb.add_argument("--max-examples", type=positive_int, help="cap the conversations per regime")
    sfb.add_argument("--ppol-share", type=share, help="fix the PPol share of the mixed regime (default: its pool's)")
    sfb.add_argument("--ppol-conditions", default="seed,program",
                     help="comma-separated conditions counted as PPol (default seed,program)")
    sfb.add_argument("--overwrite", action="store_true", help="replace an earlier build in --out")
    sfb.set_defaults(func=cmd_sft_build)
    sft = sfsub.add_parser("train", help="LoRA SFT with the paper's recipe (needs: pip install 'ppol_nb[train]')")
    sft.add_argument("--model", required=True, help="base model: a local directory or a Hugging Face id")
    sft.add_argument("--train", required=True, help="openai_train.jsonl from 'sft build'")
    sft.add_argument("--validation", required=True, help="openai_validation.jsonl from 'sft build'")
    sft.add_argument("--out", required=True, help="output directory (the best adapter goes to OUT/adapter)")
    sft.add_argument("--max-steps", type=positive_int, default=48, help="optimiser steps (paper: 48)")
    sft.add_argument("--eval-steps", type=positive_int, default=8, help="evaluate every N steps (paper: 8)")
    sft.set_defaults(func=cmd_sft_train)
