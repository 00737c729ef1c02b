"""``InstructionPretrainedLM``: pre-training on raw text augmented with synthesized instruction pairs.

Cheng et al., "Instruction Pre-Training: Language Models are Supervised Multitask Learners" (EMNLP
2024). An instruction synthesizer (``InstructionSynthesizer``) writes question/answer pairs for every
raw text; each text followed by its pairs, rendered with varied templates and chained with other
texts in few-shot order (``datamodules.transforms.instruction_templates.InstructionAugmentation``),
is the pre-training data, next to raw text and the synthesizer's own training data. The objective
stays next-token prediction over the whole text, so the method lives in the data: this is
``CausalLM`` that insists on that data, from scratch or continued from ``init_from`` (the domain
variant). Its baseline (vanilla pre-training, or DAPT for the domain variant) is ``CausalLM`` on the
raw text for the same steps.
"""

from __future__ import annotations

from zoo.modules.causal_lm import CausalLM


class InstructionPretrainedLM(CausalLM):
    """A causal LM pre-trained on instruction-augmented text; its arguments are ``CausalLM``'s."""

    required_transform = "datamodules.transforms.instruction_templates.InstructionAugmentation"
    method = "Instruction Pre-Training (Cheng et al., EMNLP 2024)"
