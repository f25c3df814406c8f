"""Translate τ-bench task indices (used by TAU-USI) to τ²-bench task ids.

TAU-USI was collected on the original τ-bench test tasks (retail 115, airline
50 — the "165 tasks" of Zhou et al.), and its record keys carry the τ-bench
task index (``retail_12_ann2`` -> retail index 12). τ²-bench re-packaged those
tasks with ids ``"0"``..``"N-1"`` (contiguous; retail 114, airline 50), but
**the id is not always the τ-bench index**:

* retail: τ² keeps τ-bench's order except that τ-bench index 95 — a verbatim
  duplicate of index 93 (same instruction, same gold actions) — was dropped.
  So indices 0–94 keep their number, 95 maps to "93" (same task), and 96–114
  map to index − 1 ("95"–"113").
* airline: τ² reordered the 50 tasks; :data:`AIRLINE_TAU_BENCH_TO_TAU2` is the
  permutation (τ-bench 0 — mia_li_3668 booking New York -> Seattle — is τ²
  "20").

The tables were built by reading sierra-research/tau-bench
``tau_bench/envs/{retail,airline}/tasks_test.py`` (airline at commit
f4bd0ae, retail at 034890c) next to τ²'s ``tasks.json`` task by task; the test
suite re-checks the airline table against the installed τ² tasks through the
τ-bench user id of every task (:data:`AIRLINE_TAU_BENCH_USERS`) and the retail
shift at its boundaries.

The PPol authors' loader uses the key's index verbatim as the τ² id; pass
``task_ids="index"`` to :func:`ppol_nb.humans.load_tau_usi` to reproduce that
(it puts airline dialogues and retail dialogues 95–114 under the wrong τ²
task, and hence sometimes in the wrong split).
"""

from __future__ import annotations

from ..domains import AIRLINE, RETAIL

RETAIL_TAU_BENCH_TASKS = 115
RETAIL_DROPPED_DUPLICATE = 95  # verbatim copy of τ-bench retail 93
RETAIL_DUPLICATE_OF = 93

# Position i holds the τ² airline id of τ-bench airline test task i.
AIRLINE_TAU_BENCH_TO_TAU2: tuple[int, ...] = (
    20, 19, 18, 21, 22, 17, 16, 15, 14, 23,
    24, 25, 26, 13, 12, 11, 27, 10, 28, 29,
    30, 31, 32, 33, 34, 35, 37, 9, 39, 41,
    42, 43, 8, 44, 7, 45, 6, 5, 46, 47,
    4, 48, 49, 40, 3, 38, 2, 1, 36, 0,
)  # fmt: skip

# τ-bench user id of each airline test task, in τ-bench order; used to verify the table.
AIRLINE_TAU_BENCH_USERS: tuple[str, ...] = (
    "mia_li_3668", "olivia_gonzalez_2305", "omar_davis_3817", "sofia_kim_7287",
    "omar_rossi_1241", "omar_rossi_1241", "aarav_garcia_1177", "aarav_garcia_1177",
    "mohamed_silva_9265", "mohamed_silva_9265", "mia_kim_4397", "ivan_muller_7015",
    "amelia_sanchez_4739", "james_lee_6136", "chen_lee_6825", "james_patel_9828",
    "ethan_martin_2396", "liam_khan_2521", "amelia_rossi_1297", "raj_brown_5782",
    "james_taylor_7043", "daiki_lee_6144", "ivan_rossi_8555", "yara_garcia_1905",
    "yara_garcia_1905", "aarav_ahmed_6699", "aarav_ahmed_6699", "aarav_ahmed_6699",
    "amelia_davis_8890", "amelia_davis_8890", "sophia_martin_4574", "mohamed_hernandez_5188",
    "sophia_silva_7557", "sophia_silva_7557", "daiki_muller_1116", "sophia_taylor_9065",
    "sophia_taylor_9065", "mei_brown_7075", "sophia_silva_7557", "sophia_silva_7557",
    "sophia_silva_7557", "anya_garcia_5901", "anya_garcia_5901", "anya_garcia_5901",
    "anya_garcia_5901", "noah_muller_9847", "noah_muller_9847", "raj_sanchez_7340",
    "lucas_brown_4047", "emma_kim_9957",
)  # fmt: skip

TASK_ID_MODES = ("tau2", "index")


def tau2_task_id(domain: str, tau_bench_index: int, mode: str = "tau2") -> str | None:
    """τ² task id for a τ-bench test-task index, or None when τ² has no such task.

    ``mode="tau2"`` applies the verified translation above; ``mode="index"``
    returns the index as a string (the PPol authors' convention), still None
    for negative indices. Unknown domains give None.
    """
    if mode not in TASK_ID_MODES:
        raise ValueError(f"unknown task-id mode {mode!r}; expected one of {TASK_ID_MODES}")
    index = int(tau_bench_index)
    if index < 0:
        return None
    if mode == "index":
        return str(index)
    if domain == RETAIL:
        if index >= RETAIL_TAU_BENCH_TASKS:
            return None
        if index < RETAIL_DROPPED_DUPLICATE:
            return str(index)
        if index == RETAIL_DROPPED_DUPLICATE:
            return str(RETAIL_DUPLICATE_OF)
        return str(index - 1)
    if domain == AIRLINE:
        if index >= len(AIRLINE_TAU_BENCH_TO_TAU2):
            return None
        return str(AIRLINE_TAU_BENCH_TO_TAU2[index])
    return None
