"""One LightningModule per system; ``CausalLM`` is the base of the language-model systems."""

from zoo.modules.causal_lm import CausalLM

__all__ = ["CausalLM"]
