# ruff: noqa: F821  (lines comes from glossary_in-context-learning_linear_attention.py, run
# earlier in the same session): the two identities of parts 1 and 3, as text.
print("\n".join(lines))
