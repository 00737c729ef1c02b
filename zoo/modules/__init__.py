"""One LightningModule per system, each a ``ZooModule``; one base module per model kind.

Kind bases: ``CausalLM`` (causal-lm), ``MaskedLMEncoder`` (encoder), ``BiEncoder``
(bi-encoder), ``VisionLM`` (vision-lm). The systems extend them (``DiffusionPLM`` and the
``SequenceClassifier`` baseline extend the encoder).
"""

from pathlib import Path

from zoo.errors import ZooError
from zoo.modules.base import ZooModule
from zoo.modules.bi_encoder import BiEncoder
from zoo.modules.causal_lm import CausalLM
from zoo.modules.classifier import SequenceClassifier
from zoo.modules.diffusion_plm import DiffusionPLM
from zoo.modules.domain_mllm import DomainMLLM
from zoo.modules.domain_rc_lm import DomainRCLM
from zoo.modules.encoder import MaskedLMEncoder
from zoo.modules.instruction_pretrained_lm import InstructionPretrainedLM
from zoo.modules.instruction_synthesizer import InstructionSynthesizer
from zoo.modules.synthesis import LMSampler, TokenEditSynthesizer
from zoo.modules.token_edited_lm import TokenEditedLM
from zoo.modules.uprise import UpriseRetriever
from zoo.modules.vision_lm import VisionLM
from zoo.modules.visual_synthesizer import VisualInstructionSynthesizer
from zoo.registry import KINDS

#: transformers architecture suffix -> the module a plain folder (no zoo card) loads as.
PLAIN_FOLDER_MODULES: dict[str, type[ZooModule]] = {
    "ForCausalLM": CausalLM, "LMHeadModel": CausalLM, "ForMaskedLM": MaskedLMEncoder,
    "ForSequenceClassification": SequenceClassifier, "Model": MaskedLMEncoder,
}


def module_for_architectures(architectures: list[str], folder: Path | str) -> type[ZooModule]:
    """The module class of a plain transformers folder, from its ``config.json`` architectures."""
    for architecture in architectures:
        for suffix, cls in PLAIN_FOLDER_MODULES.items():
            if architecture.endswith(suffix):
                return cls
    raise ZooError(f"{folder}: config.json architectures {architectures or '(none)'} name no kind lmzoo loads "
                   f"({', '.join(KINDS)}); pass a causal LM (…ForCausalLM) or an encoder (…ForMaskedLM, …Model)")


__all__ = ["BiEncoder", "CausalLM", "DiffusionPLM", "DomainMLLM", "DomainRCLM", "InstructionPretrainedLM", "InstructionSynthesizer",
           "LMSampler", "MaskedLMEncoder", "SequenceClassifier", "TokenEditSynthesizer", "TokenEditedLM", "UpriseRetriever",
           "VisionLM", "VisualInstructionSynthesizer", "ZooModule", "module_for_architectures"]
