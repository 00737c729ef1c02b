"""Document transforms: batched functions over ``{"id", "title", "text"}`` columns.

A transform plugs into ``TextCorpusDataModule(transform=...)`` and runs through
``datasets.map(batched=True, num_proc=N)``. Its ``fingerprint`` joins the data cache key,
so changing a transform's settings never serves stale tokens.
"""

from __future__ import annotations

import json
import re

#: Lone surrogates (U+D800..U+DFFF): a Python str can hold them (a JSON ``"\\ud800"`` escape
#: decodes to one) but they have no UTF-8 form, so neither a tokenizer nor a UTF-8 file takes them.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class DocumentTransform:
    """Base class: map a batch of documents to a batch of documents (ids may repeat or drop)."""

    #: False when the transform uses the title inside its output (e.g. as an answer), so the
    #: DataModule must not also print it above the text.
    keeps_title: bool = True

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        raise NotImplementedError

    def report(self, transformed) -> dict | None:
        """A summary of what the transform did to the training documents, for model cards.

        Args:
            transformed: The transformed training ``datasets.Dataset``, report columns included.
        """
        return None

    @property
    def fingerprint(self) -> str:
        """Identity of the transform and its settings (class name + public attributes)."""
        settings = {k: v for k, v in sorted(vars(self).items()) if not k.startswith("_")}
        return f"{type(self).__qualname__}:{json.dumps(settings, sort_keys=True, default=str)}"
