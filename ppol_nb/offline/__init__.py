"""The embedded offline world: deterministic stand-ins for every LLM role.

Nothing here calls a network or needs a key. Each stand-in behaves like a
deterministic LLM — text in, text out: it reads the same prompts and persona
texts an LLM would read and gets no side channel the real world lacks, so an
edit to a prompt or a persona text can change the offline world's behaviour
exactly where it would change an LLM's.
"""
