"""``DomainRCLM``: AdaptLLM, continued pre-training on reading-comprehension texts.

Cheng et al., "Adapting Large Language Models via Reading Comprehension" (ICLR 2024). Continued
pre-training on raw domain text adds knowledge but hurts prompted question answering. AdaptLLM
turns each raw document into a reading-comprehension text: the document, followed by tasks mined
from its own sentences (NLI, cause and effect, paraphrase, word-to-text, summarisation, text
completion; ``datamodules.transforms.reading_comprehension``), mixes in general instructions
(about 1:1 in biomedicine and law, 1:2 in finance) and continues next-token pre-training of a base
LM on the mixture. The objective is language modelling over the whole text, so the method lives
in the data; this module is ``CausalLM`` continued from ``init_from``, which insists on that data
and records what was mined in its checkpoints. Its baseline, DAPT, is ``CausalLM`` continued on the
raw documents for the same steps.
"""

from __future__ import annotations

from typing import Any

from zoo.errors import ZooError
from zoo.modules.causal_lm import CausalLM


class DomainRCLM(CausalLM):
    """A base LM continued on reading-comprehension texts mixed with general instructions.

    Args:
        init_from: The base model to continue (zoo name, ``local-dir:`` or ``hf-hub:``).
        learning_rate: Peak AdamW learning rate (upstream: 1e-5 for LLaMA-7B; tiny models take more).
        weight_decay: AdamW weight decay on matrices.
        warmup_steps: Linear warm-up steps before the cosine decay.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
        max_new_tokens: Tokens generated per prompt by ``predict``.
    """

    def __init__(self, init_from: str = "base-lm-tiny", learning_rate: float = 1e-3, weight_decay: float = 0.1,
                 warmup_steps: int = 20, min_lr_ratio: float = 0.1, betas: tuple[float, float] = (0.9, 0.95),
                 max_new_tokens: int = 16):
        super().__init__(init_from=init_from, learning_rate=learning_rate, weight_decay=weight_decay,
                         warmup_steps=warmup_steps, min_lr_ratio=min_lr_ratio, betas=betas, max_new_tokens=max_new_tokens)

    required_transform = "datamodules.transforms.reading_comprehension.ReadingComprehension"
    method = "AdaptLLM reading comprehension (Cheng et al., ICLR 2024)"

    def configure_model(self) -> None:
        # Checked here, not in __init__: an exported DomainRCLM is rebuilt without its base (init_from=None).
        if self.net is None:
            raise ZooError("DomainRCLM continues a base model: set --model.init_args.init_from (e.g. base-lm-tiny)")
        super().configure_model()

    @classmethod
    def card_lines(cls, card: dict[str, Any]) -> list[str]:
        """The method, and the reading-comprehension tasks mined per family (from the data report)."""
        mined = ((card.get("data_report") or {}).get("transform_report") or {})
        if "families" not in mined:
            return super().card_lines(card)
        per_family = ", ".join(f"{name} {entry['examples']}" for name, entry in mined["families"].items())
        return [*super().card_lines(card), f"- Reading-comprehension tasks mined: {mined['examples']} "
                f"({mined['examples_per_document']:.2f} per document; {per_family})"]
