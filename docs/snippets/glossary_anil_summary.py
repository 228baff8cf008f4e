# ruff: noqa: F821  (gain, swap, rival, body_moved, maml, mixed_share, shown come from the figure block
# glossary_anil_feature_reuse.py, run earlier in the same session)
print(
    f"Paired over the same held-out tasks: on the MAML-trained network the inner loop lowers the "
    f"query MSE by {shown(gain)}; switching it to head-only changes the MSE by {shown(swap)}; the "
    f"ANIL-trained network's MSE minus MAML's is {shown(rival)}. The full inner loop moves MAML's "
    f"body by "
    f"{body_moved[maml].mean:.1%} of its norm. In ANIL's own meta-gradient, the mixed term "
    f"$\\alpha(\\nabla_\\phi\\nabla_w\\mathcal{{L}}_\\mathcal{{S}})^\\top\\nabla_{{w'}}"
    f"\\mathcal{{L}}_\\mathcal{{Q}}$ is {mixed_share:.0%} of the body's gradient norm."
)
