"""One LightningModule per system; ``CausalLM`` is the base of the language-model systems."""

from zoo.modules.causal_lm import CausalLM
from zoo.modules.domain_rc_lm import DomainRCLM
from zoo.modules.instruction_pretrained_lm import InstructionPretrainedLM
from zoo.modules.instruction_synthesizer import InstructionSynthesizer
from zoo.modules.synthesis import LMSampler, TokenEditSynthesizer
from zoo.modules.token_edited_lm import TokenEditedLM

__all__ = ["CausalLM", "DomainRCLM", "InstructionPretrainedLM", "InstructionSynthesizer", "LMSampler", "TokenEditSynthesizer", "TokenEditedLM"]
