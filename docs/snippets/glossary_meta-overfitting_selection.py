# ruff: noqa: F821  (load_results comes from results_omniglot.py, included before this file)
# How this project's published Omniglot cells were selected, read from the committed result
# files, and the sizes of the class split their validation episodes come from.
import claims

from reference_impl.omniglot import get_split

results = load_results()
selected = {data["selected"] for data in results.values()}
validated = sum(bool(data.get("validation")) for data in results.values())
claims.check(
    selected == {"final"}, "every published cell evaluates the final weights", str(selected)
)
split = get_split("maml")
print(
    f"The `maml` split has {len(split.train)} / {len(split.val)} / {len(split.test)} train / "
    f"validation / test characters. Of the {len(results)} published result files, "
    f"{validated} record a validation history, and every one was evaluated with its final "
    f'weights (`"selected": "final"`).'
)
