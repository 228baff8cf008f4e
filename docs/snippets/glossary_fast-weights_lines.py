# ruff: noqa: F821  (lines comes from glossary_fast-weights_capacity.py, run earlier in the
# same session): parts 1 and 3 and the learner's defaults, as text.
print("\n".join(lines))
