"""Why an episode failed: the user gave up, the agent gave up, or the agent got it wrong.

Personas change how users talk, so a fixed agent may fail more often; this splits
those failures by who ended the attempt. Rules (on the stored messages):

* ``error`` — the episode raised (invalid tool JSON, API error, …);
* ``agent_gave_up`` — the agent transferred to a human (the offline agent does so
  after repeated unanswered asks);
* ``user_gave_up`` — the user stopped before the agent said it was done (no
  "anything else" offer), e.g. an impatient persona leaving;
* ``max_steps`` / other termination reasons — the conversation ran out;
* ``agent_wrong`` — the dialogue completed but τ²'s checks failed (wrong or
  missing action, or information not communicated).
"""

from __future__ import annotations

import pandas as pd

_DONE_OFFER = "anything else"


def failure_reason(record: dict) -> str | None:
    """None for a success; otherwise one of the categories above."""
    if record.get("error"):
        return "error"
    if (record.get("reward") or 0.0) >= 1.0:
        return None
    messages = record.get("messages") or []
    if any(c.get("name") == "transfer_to_human_agents" for m in messages for c in (m.get("tool_calls") or [])):
        return "agent_gave_up"
    term = record.get("termination_reason")
    if term != "user_stop":
        return str(term or "unknown")
    offered = any(_DONE_OFFER in (m.get("content") or "").lower() for m in messages if m["role"] == "assistant")
    return "agent_wrong" if offered else "user_gave_up"


def outcome_table(episodes: pd.DataFrame, by=("domain", "condition")) -> pd.DataFrame:
    """Per group: episodes, success rate, and the share of failures per reason."""
    df = episodes.assign(reason=[failure_reason(r) for r in episodes.to_dict("records")])
    by = [c for c in by if c in df.columns]
    out = df.groupby(by).agg(episodes=("episode_id", "count"), success_rate=("success", "mean")).reset_index()
    fails = df[df.reason.notna()]
    if not fails.empty:
        shares = (fails.groupby(by)["reason"].value_counts(normalize=True).unstack(fill_value=0.0)
                  .add_prefix("failures_").reset_index())
        out = out.merge(shares, on=by, how="left").fillna(0.0)
    return out
