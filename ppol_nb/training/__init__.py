"""Agent training on simulated τ² trajectories (Persona Policies, arXiv:2605.12894, §5.5, App. B and F).

The paper fine-tunes an agent with LoRA SFT on *successful* train-task trajectories,
comparing a default-only regime (base-simulator users) with a default + PPol regime
(base users plus PPol personas, 10 per train task) at equal compute, and tests both
against the default simulator and four out-of-distribution τ-trait suites.

* :mod:`.sft_data` — builds both regimes' datasets from episode files, at equal size,
  and exports OpenAI fine-tuning chat JSONL and ShareGPT (LLaMA-Factory), with a
  manifest; refuses TAU-USI-derived input (its terms forbid training LLMs on it).
* :mod:`.chat_formats` — the conversions and the format validators (OpenAI chat
  fine-tuning lines, LLaMA-Factory ShareGPT records).
* :mod:`.lora` — the paper's LoRA recipe on TRL + PEFT (optional extra ``train``;
  imported only when used).
"""

from .chat_formats import FormatError, read_openai_jsonl, validate_openai_line, validate_sharegpt_record
from .sft_data import REGIMES, SFTBuild, SFTConfig, SFTDataError, build_sft

__all__ = [
    "REGIMES",
    "FormatError",
    "SFTBuild",
    "SFTConfig",
    "SFTDataError",
    "build_sft",
    "read_openai_jsonl",
    "validate_openai_line",
    "validate_sharegpt_record",
]
