"""Human dialogue corpora behind one loader interface and one schema.

PPol scores simulated users against real human user turns. Three sources are
supported, each mapped to :class:`Dialogue` / :class:`Corpus`:

* ``tau-usi`` — the paper's reference (Zhou et al. 2026), gated on the Hugging
  Face Hub, CC-BY-NC-4.0, research only, never for LLM training;
* ``multiwoz`` — MultiWOZ 2.1 validation set, an openly licensed offline
  stand-in (not τ²-bench; say so when reporting);
* ``abcd`` — a three-dialogue ABCD sample, used as a fixture and for examples;

plus user-supplied JSONL files in the same schema. :func:`split_humans` splits a
corpus into disjoint training, validation and held-out humans. Texts stay outside the
repository: every loader finds its file by one look-up order (explicit path,
``$PPOL_DATA_DIR``, ``../shared/data/humans``, the user data directory; see
:mod:`ppol_nb.humans.paths`), and ``ppol-nb data fetch NAME``
(:mod:`ppol_nb.humans.fetch`) downloads a missing corpus, checksum-verified.
"""

from .abcd import load_abcd
from .jsonl import load_jsonl, write_jsonl
from .licences import SOURCES, LicenceError, SourceTerms, assert_trainable, attributions
from .loader import load_corpus
from .multiwoz import load_multiwoz
from .paths import CorpusNotFound, find_corpus_file, shared_data_dir, user_data_dir
from .schema import Corpus, Dialogue, Turn
from .splits import HumanLeakError, HumanSplit, check_record, split_humans
from .tau_bench_ids import tau2_task_id
from .tau_usi import TauUsiUnavailable, load_tau_usi
from .text import detokenize

__all__ = [
    "SOURCES",
    "Corpus",
    "CorpusNotFound",
    "Dialogue",
    "HumanLeakError",
    "HumanSplit",
    "LicenceError",
    "SourceTerms",
    "TauUsiUnavailable",
    "Turn",
    "assert_trainable",
    "attributions",
    "check_record",
    "detokenize",
    "find_corpus_file",
    "load_abcd",
    "load_corpus",
    "load_jsonl",
    "load_multiwoz",
    "load_tau_usi",
    "shared_data_dir",
    "split_humans",
    "tau2_task_id",
    "user_data_dir",
    "write_jsonl",
]
