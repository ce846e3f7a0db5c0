"""The text of ``bnnzoo list``: an overview of the zoo's families, or the models of a selection.

Without a filter the overview has one row per family, so the 50 BitNet presets take one row.
A pattern, a family or a paper lists the models with their registered defaults. Neither builds
a model; ``counts=True`` builds each listed model at its defaults to count it.

Example:
    >>> from bnnzoo.zoo.listing import format_model_list
    >>> print(format_model_list())
    >>> print(format_model_list(family="binary_densenet", counts=True))
"""

from __future__ import annotations

import tensorflow as tf

from bnnzoo._text import format_table
from bnnzoo.analysis import count_model, shapes_only
from bnnzoo.zoo.registry import create_model, get_model_spec, list_families, list_models

EXAMPLES_WIDTH = 60  # characters of model names shown per family in the overview


def format_model_list(
    pattern: str = "*",
    *,
    family: str | None = None,
    paper: str | None = None,
    counts: bool = False,
) -> str:
    """The overview (no filter, no counts) or the table of the selected models.

    Args:
        pattern: shell-style pattern on model names, e.g. ``"binary_*"``.
        family: only this family.
        paper: only the models of the papers this text names: a key (``"zhang2017"``) or part
            of a citation or nickname (``"Bethge"``, ``"BitNet"``).
        counts: add parameters, binary and float MACs and size, by building each listed model
            at its default input shape and classes (``bnnzoo.analysis.count_model``).

    Raises:
        ValueError: an unknown family or paper (the message lists the valid ones), or a
            selection without models.
    """
    if pattern == "*" and family is None and paper is None and not counts:
        return _overview()
    names = list_models(pattern, family=family, paper=paper)
    if not names:
        given = ", ".join(
            f"{key}={value!r}"
            for key, value in (("pattern", pattern), ("family", family), ("paper", paper))
            if value is not None and (key != "pattern" or value != "*")
        )
        raise ValueError(
            f"No registered model matches {given}. `bnnzoo list` shows the families, and "
            f"zoo.list_models() every name."
        )
    header = ["model", "input", "classes", "published params", "pretrained"]
    rows = [_model_row(name) for name in names]
    footer = [
        "input and classes: the defaults of create_model(model); published params: the count\n"
        "(batch norm included) that the authors or larq-zoo publish."
    ]
    if counts:
        header += COUNT_HEADER
        rows = [row + _count_row(name) for row, name in zip(rows, names)]
        footer.append(
            "Counts at each model's default input and classes. Size: binary weights at 1 bit,\n"
            "other trainable weights at 32 bits (BatchNorm moving statistics fold away at "
            "inference)."
        )
    table = format_table(_left_aligned([header, *rows], columns=(4,)))
    return "\n".join([table, "", *footer])


def _overview() -> str:
    families = list_families()
    rows = []
    for family, names in families.items():
        papers = sorted({get_model_spec(name).paper.short for name in names})
        paper = papers[0] if len(papers) == 1 else f"{len(papers)} papers"
        rows.append([family, paper, str(len(names)), _examples(names)])
    header = ["family", "paper", "models", "examples"]
    table = format_table(_left_aligned([header, *rows], columns=(1, 3)))
    total = sum(len(names) for names in families.values())
    return "\n".join(
        [
            table,
            "",
            f"{total} models in {len(families)} families. `bnnzoo list --family FAMILY`, "
            f"`--paper PAPER` (e.g. zhang2017)\nor a PATTERN lists the models with their "
            f"defaults; `--counts` adds parameters, MACs and size.",
        ]
    )


def _examples(names: list[str]) -> str:
    """The first names, in registration order, that fit in ``EXAMPLES_WIDTH``, and how many
    more there are."""
    shown = names[:1]
    for name in names[1:]:
        if len(", ".join([*shown, name])) > EXAMPLES_WIDTH:
            break
        shown.append(name)
    more = len(names) - len(shown)
    return ", ".join(shown) + (f", ... ({more} more)" if more else "")


def _model_row(name: str) -> list[str]:
    spec = get_model_spec(name)
    return [
        name,
        "x".join(str(d) for d in spec.input_shape),
        str(spec.num_classes),
        "" if spec.published_params is None else f"{spec.published_params:,}",
        ", ".join(spec.pretrained),
    ]


COUNT_HEADER = ["parameters", "binary MACs (G)", "float MACs (G)", "size (MiB)"]


def _count_row(name: str) -> list[str]:
    with shapes_only():
        model = create_model(name)
    counts = count_model(model)
    del model
    tf.keras.backend.clear_session()  # the next model starts from a clean graph
    return count_cells(counts)


def count_cells(counts) -> list[str]:
    """The ``COUNT_HEADER`` cells of a ``bnnzoo.analysis.ModelCount``."""
    return [
        f"{counts.params:,}",
        f"{counts.binary_macs / 1e9:.3f}",
        f"{counts.float_macs / 1e9:.3f}",
        f"{counts.size_mb:.2f}",
    ]


def _left_aligned(rows: list[list[str]], columns: tuple[int, ...]) -> list[list[str]]:
    """Pad the text ``columns`` (header included) to one width, so that ``format_table``, which
    right-aligns every column but the first, shows them left-aligned."""
    for column in columns:
        width = max(len(row[column]) for row in rows)
        for row in rows:
            row[column] = row[column].ljust(width)
    return rows
