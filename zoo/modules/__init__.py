"""One LightningModule per system; ``CausalLM`` is the base of the language-model systems."""

from zoo.modules.causal_lm import CausalLM
from zoo.modules.domain_rc_lm import DomainRCLM

__all__ = ["CausalLM", "DomainRCLM"]
