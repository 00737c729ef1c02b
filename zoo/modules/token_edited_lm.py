"""``TokenEditedLM``: ToEdit, pre-training on human text edited token by token by a frozen prior.

Zhu et al., "How to Synthesize Text Data without Model Collapse?" (ICML 2025). Training on text
sampled from a model makes the next model worse (the collapse study in ``configs/toedit/``);
ToEdit instead keeps human text and resamples only the tokens a prior LM finds too easy
(p > 0.99), from its top-k candidates (``datamodules.transforms.token_editing``). The result is
semi-synthetic data that keeps the human distribution's long tail.

The edits are made by the DataModule's ``TokenEditing`` transform, to whole documents, each read by
the prior on its own as upstream does (never a packed block that runs across documents), and cached
with the data. This module trains on them and records them: its model card states the prior, the
settings and the edit rate (share of the training tokens changed, overall and per document), and
its test metrics carry the edit rate as ``data/edit_rate``, so a study (``zoo study``) records it
with every run. Validation and test run on the unedited (human) text. The baseline is ``CausalLM``
on the human text.
"""

from __future__ import annotations

from typing import Any

from zoo.modules.causal_lm import CausalLM


class TokenEditedLM(CausalLM):
    """A causal LM pre-trained on token-edited human text: the DataModule's transform must be
    ``TokenEditing`` (the prior and the edit settings are set there). Arguments as ``CausalLM``."""

    required_transform = "datamodules.transforms.token_editing.TokenEditing"
    method = "ToEdit token editing (Zhu et al., ICML 2025)"

    def on_test_epoch_end(self) -> None:
        # A property of the training data, logged with the test metrics so the card's metrics and every
        # study run record it next to the scores it explains.
        edited = (getattr(self.trainer.datamodule, "report", None) or {}).get("transform_report") or {}
        if "edit_rate" in edited:
            self.log("data/edit_rate", float(edited["edit_rate"]))

    @classmethod
    def card_lines(cls, card: dict[str, Any]) -> list[str]:
        """The method, the prior and settings of the edits, and the edit rate (from the data report)."""
        edited = ((card.get("data_report") or {}).get("transform_report") or {})
        if "edit_rate" not in edited:
            return super().card_lines(card)
        settings, spread = edited["settings"], edited["per_document"]
        rule = []
        if settings["variant"] != "delete":
            rule.append(f"p > {settings['threshold']} resampled from the top {settings['top_k']} "
                        f"with softmax(logprob / {settings['beta']})")
        if settings["variant"] != "replace":
            rule.append(f"p < {settings['delete_below']} deleted")
        editing = (f"- Token editing: prior `{settings['prior']}` (`{settings['prior_identity']}`), "
                   f"{', '.join(rule)} ({settings['variant']}), whole documents in windows of "
                   f"{settings['window']} tokens, seed {settings['seed']}")
        rate = (f"- Edit rate: {edited['edit_rate']:.2%} of the {edited['tokens']:,} tokens of the "
                f"{edited['documents']:,} training documents changed or deleted (resampled "
                f"{edited['replaced_share']:.2%}, changed {edited['changed_share']:.2%}, deleted "
                f"{edited['deleted_share']:.2%})")
        if spread:
            rate += (f"; per document {spread['p10']:.1%} / {spread['p50']:.1%} / {spread['p90']:.1%} at the "
                     f"10th / 50th / 90th percentile (min {spread['min']:.1%}, max {spread['max']:.1%})")
        rate += f"; {edited['windowed']:,} documents longer than a window"
        return [*super().card_lines(card), editing, rate]
